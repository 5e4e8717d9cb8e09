// Shaping advisors and their per-tier loads for the workload charts (pure; tested).
import type { AdvisorSummary, AdvisorWorkload } from "@/client/types.gen";

export interface TierUsage {
  tier: string;
  clients: number;
  capacity: number;
  utilisation: number | null;
}

/** Clients and capacity per tier over every advisor's workload, tiers sorted by name. */
export function tierUsage(workloads: readonly AdvisorWorkload[]): TierUsage[] {
  const byTier = new Map<string, { clients: number; capacity: number }>();
  for (const w of workloads) {
    for (const t of w.by_tier) {
      const key = t.tier ?? "none";
      const cur = byTier.get(key) ?? { clients: 0, capacity: 0 };
      cur.clients += t.clients;
      cur.capacity += t.capacity ?? 0;
      byTier.set(key, cur);
    }
  }
  return [...byTier.entries()]
    .map(([tier, v]) => ({ tier, ...v, utilisation: v.capacity > 0 ? v.clients / v.capacity : null }))
    .sort((a, b) => a.tier.localeCompare(b.tier));
}

/** Tiers where an advisor holds more clients than their capacity. */
export function overCapacityTiers(w: AdvisorWorkload): string[] {
  return w.by_tier
    .filter((t) => t.capacity !== null && t.capacity !== undefined && t.clients > t.capacity)
    .map((t) => t.tier ?? "none");
}

export function isOverCapacity(a: AdvisorSummary, w?: AdvisorWorkload): boolean {
  if (w && overCapacityTiers(w).length > 0) return true;
  return a.utilisation !== null && a.utilisation !== undefined && a.utilisation > 1;
}

/** The `n` advisors with most clients (ties by name). */
export function topAdvisors(advisors: readonly AdvisorSummary[], n = 5): AdvisorSummary[] {
  return [...advisors]
    .sort((a, b) => b.client_count - a.client_count || (a.name ?? "").localeCompare(b.name ?? ""))
    .slice(0, n);
}

/** Utilisation buckets for the distribution chart: how many advisors fall in each. */
export const BUCKETS = ["< 50%", "50–80%", "80–100%", "> 100%"] as const;

export function bucketOf(utilisation: number): number {
  if (utilisation < 0.5) return 0;
  if (utilisation < 0.8) return 1;
  if (utilisation <= 1) return 2;
  return 3;
}

export function utilisationBuckets(advisors: readonly AdvisorSummary[]): { bucket: string; advisors: number }[] {
  const counts = BUCKETS.map((bucket) => ({ bucket, advisors: 0 }));
  for (const a of advisors) {
    if (a.utilisation === null || a.utilisation === undefined) continue;
    const slot = counts[bucketOf(a.utilisation)];
    if (slot) slot.advisors += 1;
  }
  return counts;
}
