// The rules service's preview diff (PreviewDiff in services/rules/.../preview.py), read
// defensively: the API forwards it as an opaque object.
export interface Move {
  client_id: string;
  from_territory: string | null;
  from_advisor: string | null;
  to_territory: string | null;
  to_advisor: string | null;
  rule_id: string | null;
  reason: string;
}
export interface TerritoryCount {
  territory_id: string;
  before: number;
  after: number;
}
export interface AdvisorLoad {
  advisor_email: string;
  before: Record<string, number>;
  after: Record<string, number>;
  capacity_before: Record<string, number>;
  capacity_after: Record<string, number>;
  over_capacity_after: string[];
}
export interface ConflictSummary {
  conflict_id: string;
  kind: string;
  severity: string;
  client_id: string | null;
  detail: string;
}
export interface PreviewDiff {
  active_version: string;
  candidate_version: string;
  clients: number;
  moved: number;
  moves: Move[];
  moves_truncated: boolean;
  held_back: number;
  territories: TerritoryCount[];
  advisors: AdvisorLoad[];
  new_conflicts: ConflictSummary[];
  resolved_conflicts: ConflictSummary[];
  new_conflicts_by_kind: Record<string, number>;
  refused: boolean;
}

const arr = <T,>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const rec = (v: unknown): Record<string, number> =>
  v && typeof v === "object" ? (v as Record<string, number>) : {};

export function readDiff(raw: Record<string, unknown>): PreviewDiff {
  return {
    active_version: String(raw.active_version ?? "?"),
    candidate_version: String(raw.candidate_version ?? "?"),
    clients: num(raw.clients),
    moved: num(raw.moved),
    moves: arr<Move>(raw.moves),
    moves_truncated: raw.moves_truncated === true,
    held_back: num(raw.held_back),
    territories: arr<TerritoryCount>(raw.territories),
    advisors: arr<AdvisorLoad>(raw.advisors),
    new_conflicts: arr<ConflictSummary>(raw.new_conflicts),
    resolved_conflicts: arr<ConflictSummary>(raw.resolved_conflicts),
    new_conflicts_by_kind: rec(raw.new_conflicts_by_kind),
    refused: raw.refused === true,
  };
}

/** Territories whose client count changes, biggest change first. */
export function territoryChanges(diff: PreviewDiff): (TerritoryCount & { delta: number })[] {
  return diff.territories
    .map((t) => ({ ...t, delta: t.after - t.before }))
    .filter((t) => t.delta !== 0)
    .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || a.territory_id.localeCompare(b.territory_id));
}

const total = (r: Record<string, number>) => Object.values(r).reduce((s, n) => s + n, 0);

/** Advisors whose load or capacity changes, with totals before / after. */
export function advisorChanges(diff: PreviewDiff) {
  return diff.advisors
    .map((a) => ({
      advisor: a.advisor_email,
      before: total(a.before),
      after: total(a.after),
      capacityBefore: total(a.capacity_before),
      capacityAfter: total(a.capacity_after),
      over: a.over_capacity_after,
    }))
    .filter((a) => a.before !== a.after || a.capacityBefore !== a.capacityAfter || a.over.length > 0)
    .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before) || a.advisor.localeCompare(b.advisor));
}

/** A candidate as the API takes it: JSON text as a document, anything else as YAML. */
export function candidateBody(text: string): { document: Record<string, unknown> } | { yaml: string } {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      return { document: JSON.parse(trimmed) as Record<string, unknown> };
    } catch {
      /* not JSON after all: let the API's YAML parser report it */
    }
  }
  return { yaml: text };
}
