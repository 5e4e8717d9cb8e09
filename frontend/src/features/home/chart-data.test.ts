import { describe, expect, it } from "vitest";
import type { TerritorySummary } from "@/client/types.gen";
import { recentChanges, regionSlices, territoryDistribution, trendSeries } from "./chart-data";

const territory = (name: string, client_count: number): TerritorySummary => ({
  territory_id: name.toLowerCase(),
  name,
  region: "EMEA",
  segment: null,
  tier: null,
  active: true,
  ruleset_version: "1",
  advisors: [],
  client_count,
});

describe("trendSeries", () => {
  it("fills every day of the window, zero where the API has no point", () => {
    const series = trendSeries(
      [
        { day: "2026-11-29", changes: 4 },
        { day: "2026-12-01", changes: 7 },
        { day: "2026-10-01", changes: 99 }, // outside the window
      ],
      5,
      new Date("2026-12-01T15:00:00Z"),
    );
    expect(series).toEqual([
      { day: "2026-11-27", changes: 0 },
      { day: "2026-11-28", changes: 0 },
      { day: "2026-11-29", changes: 4 },
      { day: "2026-11-30", changes: 0 },
      { day: "2026-12-01", changes: 7 },
    ]);
  });

  it("counts today and the last seven days", () => {
    const series = trendSeries(
      [
        { day: "2026-11-20", changes: 100 },
        { day: "2026-11-26", changes: 2 },
        { day: "2026-12-01", changes: 3 },
      ],
      30,
      new Date("2026-12-01T00:00:00Z"),
    );
    expect(recentChanges(series)).toEqual({ today: 3, week: 5 });
  });
});

describe("territoryDistribution", () => {
  it("keeps the largest, sums the rest as Other and leaves empty territories out", () => {
    const slices = territoryDistribution(
      [territory("A", 5), territory("B", 50), territory("C", 0), territory("D", 7), territory("E", 1)],
      2,
    );
    expect(slices).toEqual([
      { name: "B", clients: 50 },
      { name: "D", clients: 7 },
      { name: "Other", clients: 6 },
    ]);
  });

  it("has no Other slice when everything fits", () => {
    expect(territoryDistribution([territory("A", 1)], 10)).toEqual([{ name: "A", clients: 1 }]);
  });
});

it("orders regions by clients", () => {
  expect(regionSlices({ NA: 3, EMEA: 9, APAC: 1 }).map((s) => s.name)).toEqual(["EMEA", "NA", "APAC"]);
});
