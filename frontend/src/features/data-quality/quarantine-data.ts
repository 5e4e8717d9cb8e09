// Quarantined field values (a bad optional value kept on the record, the field left empty)
// shaped for the data-quality page and the client page. Pure: no React, no fetching.
import type { DataQualitySummary, FieldIssueRecord } from "@/client/types.gen";

export interface Tally {
  key: string;
  issues: number;
  /** Distinct clients; null where the API gives no distinct count (by field). */
  clients: number | null;
}

const byCountThenKey = (a: Tally, b: Tally) => b.issues - a.issues || a.key.localeCompare(b.key);

/** Issues per field, most frequent first. */
export function tallyByField(summary: DataQualitySummary): Tally[] {
  return Object.entries(summary.by_field)
    .map(([key, issues]) => ({ key, issues, clients: null }))
    .sort(byCountThenKey);
}

/**
 * Issues per code, summed over the fields that carry it, most frequent first. A client may
 * have the same code on two fields, so per-code client counts cannot be summed: they are
 * given only for a code that one field alone carries.
 */
export function tallyByCode(summary: DataQualitySummary): Tally[] {
  const codes = new Map<string, { issues: number; clients: number; fields: number }>();
  for (const c of summary.by_field_and_code) {
    const t = codes.get(c.code) ?? { issues: 0, clients: 0, fields: 0 };
    codes.set(c.code, { issues: t.issues + c.issues, clients: t.clients + c.clients, fields: t.fields + 1 });
  }
  return [...codes.entries()]
    .map(([key, t]) => ({ key, issues: t.issues, clients: t.fields === 1 ? t.clients : null }))
    .sort(byCountThenKey);
}

// The PII kind (`masked` in the API's answers) that hides a field's raw value.
const PII_OF_FIELD: Record<string, string> = { tax_id: "tax_id", advisor_email: "emails" };

export type RawValue =
  | { kind: "value"; text: string }
  | { kind: "blank" }
  | { kind: "masked" }
  | { kind: "missing" };

/**
 * What to show for a quarantined value. The API answers `raw: null` both for PII the caller
 * may not see and for a value that never arrived; `masked` (the caller's masked PII kinds)
 * tells them apart. A value of only spaces is named, not shown as an empty cell.
 */
export function rawValue(issue: Pick<FieldIssueRecord, "field" | "raw">, masked: readonly string[]): RawValue {
  const raw = issue.raw;
  if (raw === null || raw === undefined) {
    const pii = PII_OF_FIELD[issue.field];
    return pii !== undefined && masked.includes(pii) ? { kind: "masked" } : { kind: "missing" };
  }
  if (raw.trim() === "") return { kind: "blank" };
  return { kind: "value", text: raw };
}

export interface SourceIssues {
  sourceKey: string;
  issues: FieldIssueRecord[];
}

/** A client's issues per source record, in the order the API lists them (by source key). */
export function issuesBySource(issues: readonly FieldIssueRecord[]): SourceIssues[] {
  const groups = new Map<string, FieldIssueRecord[]>();
  for (const i of issues) {
    const list = groups.get(i.source_key);
    if (list) list.push(i);
    else groups.set(i.source_key, [i]);
  }
  return [...groups.entries()].map(([sourceKey, list]) => ({ sourceKey, issues: list }));
}

export interface PageWindow {
  /** 1-based rows shown, `from`..`to` of `total` (0..0 when there is none). */
  from: number;
  to: number;
  total: number;
  page: number;
  pages: number;
  previous: number | null;
  next: number | null;
}

/** Offset paging as the API answers it (`total`, `limit`, `offset`, the rows of this page). */
export function pageWindow(total: number, limit: number, offset: number, rows: number): PageWindow {
  const size = Math.max(1, limit);
  return {
    from: rows === 0 ? 0 : offset + 1,
    to: rows === 0 ? 0 : offset + rows,
    total,
    page: Math.floor(offset / size) + 1,
    pages: Math.max(1, Math.ceil(total / size)),
    previous: offset > 0 ? Math.max(0, offset - size) : null,
    next: offset + rows < total && rows > 0 ? offset + size : null,
  };
}
