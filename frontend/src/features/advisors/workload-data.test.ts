import { expect, it } from "vitest";
import type { AdvisorSummary, AdvisorWorkload } from "@/client/types.gen";
import { bucketOf, isOverCapacity, overCapacityTiers, tierUsage, topAdvisors, utilisationBuckets } from "./workload-data";

const advisor = (name: string, client_count: number, utilisation: number | null): AdvisorSummary => ({
  advisor_id: `adv_${name}`,
  email: null,
  name,
  active: true,
  total_capacity: 10,
  capacity: {},
  territory_ids: [],
  client_count,
  utilisation,
});

const workload = (name: string, tiers: [string, number, number | null][]): AdvisorWorkload => ({
  ...advisor(name, 0, null),
  by_tier: tiers.map(([tier, clients, capacity]) => ({ tier, clients, capacity, utilisation: null })),
  clients: { items: [], total: 0, limit: 1, offset: 0 },
});

it("sums clients and capacity per tier over advisors", () => {
  const usage = tierUsage([
    workload("a", [["t1", 3, 4], ["t2", 1, 10]]),
    workload("b", [["t1", 5, 4]]),
  ]);
  expect(usage).toEqual([
    { tier: "t1", clients: 8, capacity: 8, utilisation: 1 },
    { tier: "t2", clients: 1, capacity: 10, utilisation: 0.1 },
  ]);
});

it("finds the tiers over capacity, and no tier without a capacity", () => {
  const w = workload("a", [["t1", 5, 4], ["t2", 4, 4], ["t3", 9, null]]);
  expect(overCapacityTiers(w)).toEqual(["t1"]);
  expect(isOverCapacity(advisor("a", 18, 0.5), w)).toBe(true);
  expect(isOverCapacity(advisor("b", 3, 0.9))).toBe(false);
  expect(isOverCapacity(advisor("c", 30, 1.2))).toBe(true);
});

it("ranks advisors by clients and buckets utilisation", () => {
  const list = [advisor("x", 3, 0.2), advisor("y", 9, 0.85), advisor("z", 9, 1.5), advisor("w", 1, null)];
  expect(topAdvisors(list, 2).map((a) => a.name)).toEqual(["y", "z"]);
  expect(utilisationBuckets(list).map((b) => b.advisors)).toEqual([1, 0, 1, 1]);
  expect([0.49, 0.5, 0.8, 1, 1.01].map(bucketOf)).toEqual([0, 1, 2, 2, 3]);
});
