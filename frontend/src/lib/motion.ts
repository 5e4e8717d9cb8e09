import { useSyncExternalStore } from "react";

// WCAG 2.3.3: someone who asked their system for less motion gets charts drawn at once,
// not grown over a second. (Screenshots and the browser run ask for it too, so they show
// the finished chart, not a frame of its animation.)
const QUERY = "(prefers-reduced-motion: reduce)";

function media(): MediaQueryList | undefined {
  return typeof window !== "undefined" && typeof window.matchMedia === "function"
    ? window.matchMedia(QUERY)
    : undefined;
}

export function prefersReducedMotion(): boolean {
  return media()?.matches ?? false;
}

function subscribe(onChange: () => void): () => void {
  const list = media();
  list?.addEventListener("change", onChange);
  return () => list?.removeEventListener("change", onChange);
}

/** True while the user's system asks for reduced motion (follows changes live). */
export function useReducedMotion(): boolean {
  return useSyncExternalStore(subscribe, prefersReducedMotion, () => false);
}
