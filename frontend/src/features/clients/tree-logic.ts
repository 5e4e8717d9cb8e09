// The hierarchy tree's pure parts (tested in hierarchy-tree.test.tsx).
import type { HierarchyNode } from "@/client/types.gen";

/** Ids to open so that every search match is visible: each match's ancestors. */
export function revealIds(matches: readonly HierarchyNode[]): Set<string> {
  const ids = new Set<string>();
  for (const m of matches) for (const id of m.path ?? []) ids.add(id);
  return ids;
}

/** The roots a search result hangs from: each match's top ancestor, or the match itself. */
export function searchRoots(matches: readonly HierarchyNode[]): string[] {
  const roots: string[] = [];
  for (const m of matches) {
    const root = m.path?.[0] ?? m.client_id;
    if (!roots.includes(root)) roots.push(root);
  }
  return roots;
}

export interface Segment {
  text: string;
  match: boolean;
}

/** `text` cut around every case-insensitive occurrence of `term`. */
export function highlight(text: string, term: string | undefined): Segment[] {
  if (!term) return [{ text, match: false }];
  const out: Segment[] = [];
  const lower = text.toLowerCase();
  const needle = term.toLowerCase();
  let at = 0;
  for (;;) {
    const i = lower.indexOf(needle, at);
    if (i < 0) break;
    if (i > at) out.push({ text: text.slice(at, i), match: false });
    out.push({ text: text.slice(i, i + needle.length), match: true });
    at = i + needle.length;
  }
  if (at < text.length) out.push({ text: text.slice(at), match: false });
  return out;
}
