import { act, renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { prefersReducedMotion, useReducedMotion } from "./motion";

function fakeMedia(initial: boolean) {
  const listeners = new Set<() => void>();
  const list = {
    matches: initial,
    addEventListener: (_: string, cb: () => void) => listeners.add(cb),
    removeEventListener: (_: string, cb: () => void) => listeners.delete(cb),
  };
  const matchMedia = vi.fn((query: string) => {
    expect(query).toBe("(prefers-reduced-motion: reduce)");
    return list;
  });
  vi.stubGlobal("matchMedia", matchMedia);
  return {
    set(value: boolean) {
      list.matches = value;
      listeners.forEach((cb) => cb());
    },
    listeners,
  };
}

afterEach(() => vi.unstubAllGlobals());

describe("reduced motion", () => {
  it("is off where the browser cannot tell", () => {
    vi.stubGlobal("matchMedia", undefined);
    expect(prefersReducedMotion()).toBe(false);
  });

  it("follows the system setting, live, and stops listening on unmount", () => {
    const media = fakeMedia(false);
    const { result, unmount } = renderHook(() => useReducedMotion());
    expect(result.current).toBe(false);
    act(() => media.set(true));
    expect(result.current).toBe(true);
    unmount();
    expect(media.listeners.size).toBe(0);
  });
});
