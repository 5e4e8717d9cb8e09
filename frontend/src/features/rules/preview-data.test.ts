import { expect, it } from "vitest";
import { advisorChanges, candidateBody, readDiff, territoryChanges } from "./preview-data";

const raw = {
  active_version: "1",
  candidate_version: "2",
  clients: 10,
  moved: 2,
  moves: [],
  territories: [
    { territory_id: "A", before: 5, after: 3 },
    { territory_id: "B", before: 5, after: 5 },
    { territory_id: "C", before: 0, after: 2 },
  ],
  advisors: [
    { advisor_email: "a@x", before: { t1: 2 }, after: { t1: 4 }, capacity_before: { t1: 3 }, capacity_after: { t1: 3 }, over_capacity_after: ["t1"] },
    { advisor_email: "b@x", before: { t1: 1 }, after: { t1: 1 }, capacity_before: { t1: 3 }, capacity_after: { t1: 3 }, over_capacity_after: [] },
  ],
  new_conflicts: [],
  resolved_conflicts: [],
  new_conflicts_by_kind: {},
};

it("keeps only the territories and advisors that change, biggest first", () => {
  const diff = readDiff(raw);
  expect(territoryChanges(diff).map((t) => [t.territory_id, t.delta])).toEqual([
    ["A", -2],
    ["C", 2],
  ]);
  expect(advisorChanges(diff)).toEqual([
    { advisor: "a@x", before: 2, after: 4, capacityBefore: 3, capacityAfter: 3, over: ["t1"] },
  ]);
});

it("reads a partial diff without throwing", () => {
  const diff = readDiff({ clients: 3 });
  expect(diff.moves).toEqual([]);
  expect(diff.refused).toBe(false);
});

it("sends JSON as a document and anything else as YAML", () => {
  expect(candidateBody('{"version": "2"}')).toEqual({ document: { version: "2" } });
  expect(candidateBody("version: 2\n")).toEqual({ yaml: "version: 2\n" });
  expect(candidateBody("{not json")).toEqual({ yaml: "{not json" });
});
