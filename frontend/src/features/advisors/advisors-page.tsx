import { useQueries, useQuery } from "@tanstack/react-query";
import { AlertTriangle, Search, Trophy } from "lucide-react";
import { useState } from "react";
import { advisorWorkloadApiAdvisorsAdvisorWorkloadGet, listAdvisorsApiAdvisorsGet } from "@/client/sdk.gen";
import type { AdvisorWorkload } from "@/client/types.gen";
import { EmptyState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { unwrap } from "@/lib/api";
import { formatCount, formatPercent } from "@/lib/format";
import { cn } from "@/lib/utils";
import { BucketChart, CapacityChart, WorkloadChart } from "./advisor-charts";
import { isOverCapacity, overCapacityTiers, tierUsage, topAdvisors, utilisationBuckets } from "./workload-data";

const WORKLOADS = 60;

function UtilisationBar({ value }: { value: number | null | undefined }) {
  if (value === null || value === undefined) return <span className="text-muted-foreground">—</span>;
  const pct = Math.min(100, Math.round(value * 100));
  return (
    <div className="flex items-center gap-2">
      <div className="h-2 w-24 overflow-hidden rounded-full bg-muted" aria-hidden>
        <div className={cn("h-full rounded-full", value > 1 ? "bg-destructive" : value > 0.8 ? "bg-amber-500" : "bg-emerald-500")} style={{ width: `${pct}%` }} />
      </div>
      <span className="tabular-nums text-xs">{formatPercent(value)}</span>
    </div>
  );
}

export default function AdvisorsPage() {
  const [text, setText] = useState("");
  const [q, setQ] = useState<string>();
  const advisors = useQuery({
    queryKey: ["advisors", q],
    queryFn: () => unwrap(listAdvisorsApiAdvisorsGet({ query: { limit: 500, q } })),
  });
  const items = advisors.data?.items ?? [];
  const workloads = useQueries({
    queries: items.slice(0, WORKLOADS).map((a) => ({
      queryKey: ["workload", a.advisor_id],
      queryFn: () => unwrap(advisorWorkloadApiAdvisorsAdvisorWorkloadGet({ path: { advisor: a.advisor_id }, query: { limit: 1 } })),
    })),
  });
  const loads = new Map<string, AdvisorWorkload>();
  for (const w of workloads) if (w.data) loads.set(w.data.advisor_id, w.data);
  const tiers = tierUsage([...loads.values()]);
  const over = items.filter((a) => isOverCapacity(a, loads.get(a.advisor_id)));

  return (
    <div>
      <PageHeader title="Advisor workloads" description="Clients, capacity and utilisation per advisor and tier" />
      <QueryView query={advisors} rows={8} isEmpty={(d) => d.items.length === 0 && !q} empty={<EmptyState title="No advisors in your regions" />}>
        {() => (
          <>
            <div className="grid gap-4 lg:grid-cols-3">
              <Card>
                <CardHeader>
                  <CardTitle>Capacity vs clients, per tier</CardTitle>
                  <CardDescription>Summed over advisors</CardDescription>
                </CardHeader>
                <CardContent>{tiers.length ? <CapacityChart tiers={tiers} /> : <EmptyState title="No tier loads yet" />}</CardContent>
              </Card>
              <Card>
                <CardHeader>
                  <CardTitle>Workload distribution</CardTitle>
                  <CardDescription>Clients per advisor</CardDescription>
                </CardHeader>
                <CardContent>
                  <WorkloadChart data={topAdvisors(items, 15).map((a) => ({ name: a.name ?? a.advisor_id, clients: a.client_count }))} />
                </CardContent>
              </Card>
              <Card>
                <CardHeader>
                  <CardTitle>Utilisation</CardTitle>
                  <CardDescription>Advisors by share of capacity used</CardDescription>
                </CardHeader>
                <CardContent><BucketChart data={utilisationBuckets(items)} /></CardContent>
              </Card>
            </div>
            <div className="mt-4 grid gap-4 lg:grid-cols-2">
              <Card>
                <CardHeader>
                  <CardTitle className="flex items-center gap-2"><Trophy className="size-4" aria-hidden /> Top advisors</CardTitle>
                </CardHeader>
                <CardContent>
                  <ol className="space-y-2">
                    {topAdvisors(items).map((a, i) => (
                      <li key={a.advisor_id} className="flex items-center justify-between gap-2 text-sm">
                        <span><span className="mr-2 text-muted-foreground">{i + 1}.</span>{a.name ?? a.advisor_id}</span>
                        <span className="tabular-nums">{formatCount(a.client_count)} clients</span>
                      </li>
                    ))}
                  </ol>
                </CardContent>
              </Card>
              <Card>
                <CardHeader>
                  <CardTitle className="flex items-center gap-2"><AlertTriangle className="size-4 text-destructive" aria-hidden /> Over capacity</CardTitle>
                  <CardDescription>More clients than capacity in at least one tier</CardDescription>
                </CardHeader>
                <CardContent data-testid="over-capacity">
                  {over.length === 0 ? (
                    <p className="text-sm text-muted-foreground">Nobody is over capacity.</p>
                  ) : (
                    <ul className="space-y-2">
                      {over.map((a) => {
                        const w = loads.get(a.advisor_id);
                        return (
                          <li key={a.advisor_id} className="flex flex-wrap items-center justify-between gap-2 text-sm">
                            <span className="font-medium">{a.name ?? a.advisor_id}</span>
                            <span className="flex gap-1">
                              {(w ? overCapacityTiers(w) : []).map((t) => <Badge key={t} variant="destructive">{t}</Badge>)}
                              <Badge variant="outline">{formatPercent(a.utilisation)}</Badge>
                            </span>
                          </li>
                        );
                      })}
                    </ul>
                  )}
                </CardContent>
              </Card>
            </div>
            <Card className="mt-4">
              <CardHeader className="flex flex-row flex-wrap items-center justify-between gap-2">
                <CardTitle>All advisors</CardTitle>
                <form role="search" className="relative" onSubmit={(e) => { e.preventDefault(); setQ(text.trim() || undefined); }}>
                  <Search className="absolute top-2.5 left-2.5 size-4 text-muted-foreground" aria-hidden />
                  <Input type="search" aria-label="Search advisors" placeholder="Search advisors" className="w-56 pl-8" value={text} onChange={(e) => setText(e.target.value)} />
                </form>
              </CardHeader>
              <CardContent>
                {items.length === 0 ? (
                  <EmptyState title={`No advisor matches “${q}”`} />
                ) : (
                  <Table aria-label="Advisors">
                    <TableHeader>
                      <TableRow>
                        <TableHead>Advisor</TableHead>
                        <TableHead>Territories</TableHead>
                        <TableHead>Clients</TableHead>
                        <TableHead>Capacity by tier</TableHead>
                        <TableHead>Utilisation</TableHead>
                      </TableRow>
                    </TableHeader>
                    <TableBody>
                      {items.map((a) => {
                        const w = loads.get(a.advisor_id);
                        return (
                          <TableRow key={a.advisor_id}>
                            <TableCell>
                              <p className="font-medium">{a.name ?? a.advisor_id}</p>
                              {a.email ? <p className="text-xs text-muted-foreground">{a.email}</p> : null}
                            </TableCell>
                            <TableCell className="text-xs">{a.territory_ids.join(", ") || "—"}</TableCell>
                            <TableCell className="tabular-nums">{formatCount(a.client_count)}</TableCell>
                            <TableCell>
                              <span className="flex flex-wrap gap-1">
                                {(w?.by_tier ?? []).map((t) => (
                                  <Badge key={t.tier ?? "none"} variant={t.capacity !== null && t.capacity !== undefined && t.clients > t.capacity ? "destructive" : "secondary"}>
                                    {t.tier ?? "—"}: {t.clients}/{t.capacity ?? "∞"}
                                  </Badge>
                                ))}
                              </span>
                            </TableCell>
                            <TableCell><UtilisationBar value={a.utilisation} /></TableCell>
                          </TableRow>
                        );
                      })}
                    </TableBody>
                  </Table>
                )}
              </CardContent>
            </Card>
          </>
        )}
      </QueryView>
    </div>
  );
}
