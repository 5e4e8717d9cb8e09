import { describe, expect, it } from "vitest";
import type { DataQualitySummary, FieldIssueRecord } from "@/client/types.gen";
import { issuesBySource, pageWindow, rawValue, tallyByCode, tallyByField } from "./quarantine-data";

const summary: DataQualitySummary = {
  issues: 9,
  clients_with_issues: 6,
  by_field: { lei: 2, segment: 3, tax_id: 2, website: 2 },
  by_field_and_code: [
    { field: "segment", code: "unknown_segment", issues: 3, clients: 3 },
    { field: "lei", code: "invalid_lei", issues: 2, clients: 2 },
    { field: "tax_id", code: "invalid_format", issues: 1, clients: 1 },
    { field: "website", code: "invalid_format", issues: 2, clients: 2 },
    { field: "tax_id", code: "invalid_tax_id", issues: 1, clients: 1 },
  ],
  masked: [],
};

function issue(source_key: string, field: string, raw: string | null = "x"): FieldIssueRecord {
  return { source_key, field, code: "c", raw, message: "m", client_id: "gc-1", client_name: "Acme" };
}

describe("tallies", () => {
  it("by field: most frequent first, ties by name", () => {
    expect(tallyByField(summary).map((t) => [t.key, t.issues])).toEqual([
      ["segment", 3],
      ["lei", 2],
      ["tax_id", 2],
      ["website", 2],
    ]);
  });

  it("by code: summed over fields, with a client count only where one field carries the code", () => {
    expect(tallyByCode(summary)).toEqual([
      { key: "invalid_format", issues: 3, clients: null },
      { key: "unknown_segment", issues: 3, clients: 3 },
      { key: "invalid_lei", issues: 2, clients: 2 },
      { key: "invalid_tax_id", issues: 1, clients: 1 },
    ]);
  });

  it("an empty summary has no rows", () => {
    const none = { ...summary, issues: 0, by_field: {}, by_field_and_code: [] };
    expect(tallyByField(none)).toEqual([]);
    expect(tallyByCode(none)).toEqual([]);
  });
});

describe("rawValue", () => {
  it("keeps the value exactly as received, markup included", () => {
    expect(rawValue({ field: "website", raw: "<b>acme</b> " }, [])).toEqual({ kind: "value", text: "<b>acme</b> " });
  });

  it("a null raw is masked only when the caller's masked kinds cover that field", () => {
    expect(rawValue({ field: "tax_id", raw: null }, ["tax_id", "emails"])).toEqual({ kind: "masked" });
    expect(rawValue({ field: "advisor_email", raw: null }, ["emails"])).toEqual({ kind: "masked" });
    expect(rawValue({ field: "advisor_email", raw: null }, ["tax_id"])).toEqual({ kind: "missing" });
    expect(rawValue({ field: "lei", raw: null }, ["tax_id", "emails"])).toEqual({ kind: "missing" });
  });

  it("a value of only whitespace is named blank", () => {
    expect(rawValue({ field: "postal_code", raw: "  " }, [])).toEqual({ kind: "blank" });
    expect(rawValue({ field: "postal_code", raw: "" }, [])).toEqual({ kind: "blank" });
  });
});

it("issuesBySource groups a client's issues per source record, first appearance first", () => {
  const a1 = issue("salesforce:1", "lei");
  const b1 = issue("hubspot:9", "tax_id");
  const a2 = issue("salesforce:1", "website");
  expect(issuesBySource([a1, b1, a2])).toEqual([
    { sourceKey: "salesforce:1", issues: [a1, a2] },
    { sourceKey: "hubspot:9", issues: [b1] },
  ]);
  expect(issuesBySource([])).toEqual([]);
});

describe("pageWindow", () => {
  it("the first of three pages", () => {
    expect(pageWindow(120, 50, 0, 50)).toEqual({ from: 1, to: 50, total: 120, page: 1, pages: 3, previous: null, next: 50 });
  });

  it("the last, partial page has no next", () => {
    expect(pageWindow(120, 50, 100, 20)).toEqual({ from: 101, to: 120, total: 120, page: 3, pages: 3, previous: 50, next: null });
  });

  it("an offset past the end shows nothing and leads back", () => {
    expect(pageWindow(10, 50, 50, 0)).toEqual({ from: 0, to: 0, total: 10, page: 2, pages: 1, previous: 0, next: null });
  });

  it("nothing at all", () => {
    expect(pageWindow(0, 50, 0, 0)).toMatchObject({ from: 0, to: 0, page: 1, pages: 1, previous: null, next: null });
  });
});
