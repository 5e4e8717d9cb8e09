// Shaping API answers into chart series (pure: tested in chart-data.test.ts).
import type { TerritorySummary, TrendPoint } from "@/client/types.gen";

export interface DayPoint {
  day: string;
  changes: number;
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** One point per day for the last `days` days ending `today` (UTC), zero where none. */
export function trendSeries(points: readonly TrendPoint[], days: number, today: Date): DayPoint[] {
  const byDay = new Map(points.map((p) => [p.day, p.changes]));
  const out: DayPoint[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
    const key = isoDay(d);
    out.push({ day: key, changes: byDay.get(key) ?? 0 });
  }
  return out;
}

/** Changes on the last day of the series and over its last seven days. */
export function recentChanges(series: readonly DayPoint[]): { today: number; week: number } {
  const last = series.at(-1)?.changes ?? 0;
  const week = series.slice(-7).reduce((sum, p) => sum + p.changes, 0);
  return { today: last, week };
}

export interface Slice {
  name: string;
  clients: number;
}

/** The `top` territories by clients, the rest summed as "Other" (empty ones left out). */
export function territoryDistribution(territories: readonly TerritorySummary[], top = 10): Slice[] {
  const sorted = territories
    .filter((t) => t.client_count > 0)
    .map((t) => ({ name: t.name, clients: t.client_count }))
    .sort((a, b) => b.clients - a.clients || a.name.localeCompare(b.name));
  const head = sorted.slice(0, top);
  const rest = sorted.slice(top).reduce((sum, s) => sum + s.clients, 0);
  return rest > 0 ? [...head, { name: "Other", clients: rest }] : head;
}

/** Region → clients as slices, largest first. */
export function regionSlices(byRegion: Record<string, number>): Slice[] {
  return Object.entries(byRegion)
    .map(([name, clients]) => ({ name, clients }))
    .sort((a, b) => b.clients - a.clients);
}
