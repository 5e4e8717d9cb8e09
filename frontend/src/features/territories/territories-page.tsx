import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { ColumnDef, SortingState } from "@tanstack/react-table";
import { LayoutGrid, List, Search } from "lucide-react";
import { lazy, Suspense, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { assignmentTrendApiAssignmentsTrendGet, listTerritoriesApiTerritoriesGet } from "@/client/sdk.gen";
import type { TerritorySummary } from "@/client/types.gen";
import { DataTable, fromSortParam, toSortParam } from "@/components/data-table";
import { FilterSelect } from "@/components/filter-select";
import { EmptyState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { territoryDistribution, trendSeries } from "@/features/home/chart-data";
import { Input } from "@/components/ui/input";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { unwrap } from "@/lib/api";
import { formatCount } from "@/lib/format";
import { distinct, REGIONS, SEGMENTS } from "@/lib/vocabulary";

const DistributionChart = lazy(() =>
  import("@/features/home/home-charts").then((m) => ({ default: m.DistributionChart })),
);
const TrendChart = lazy(() => import("@/features/home/home-charts").then((m) => ({ default: m.TrendChart })));
const TREND_DAYS = 30;

export const territoryColumns: ColumnDef<TerritorySummary, unknown>[] = [
  {
    id: "name",
    accessorKey: "name",
    header: "Territory",
    cell: ({ row }) => (
      <Link to={`/territories/${encodeURIComponent(row.original.territory_id)}`} className="font-medium text-primary hover:underline">
        {row.original.name}
      </Link>
    ),
  },
  { id: "region", accessorKey: "region", header: "Region", cell: ({ getValue }) => (getValue() as string | null) ?? "—" },
  { id: "segment", accessorKey: "segment", header: "Segment", cell: ({ getValue }) => (getValue() as string | null) ?? "any" },
  { id: "tier", accessorKey: "tier", header: "Tier", cell: ({ getValue }) => (getValue() as string | null) ?? "any" },
  {
    id: "advisors",
    header: "Advisors",
    enableSorting: false,
    cell: ({ row }) => (
      <span className="text-muted-foreground">
        {row.original.advisors.map((a) => a.name ?? a.advisor_id).join(", ") || "—"}
      </span>
    ),
  },
  {
    id: "client_count",
    accessorKey: "client_count",
    header: "Clients",
    enableSorting: false,
    cell: ({ getValue }) => <span className="tabular-nums">{formatCount(getValue() as number)}</span>,
  },
];

export default function TerritoriesPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const region = params.get("region") ?? undefined;
  const segment = params.get("segment") ?? undefined;
  const tier = params.get("tier") ?? undefined;
  const sort = params.get("sort") ?? "name";
  const [q, setQ] = useState(params.get("q") ?? "");
  const set = (key: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const query = useQuery({
    queryKey: ["territories", { region, segment, tier, sort, q: params.get("q") }],
    queryFn: () =>
      unwrap(
        listTerritoriesApiTerritoriesGet({
          query: { region, segment, tier, sort, q: params.get("q") ?? undefined, limit: 500 },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const all = useQuery({
    queryKey: ["territories", "all"],
    queryFn: () => unwrap(listTerritoriesApiTerritoriesGet({ query: { limit: 500 } })),
  });
  const tiers = useMemo(() => distinct(all.data?.items.map((t) => t.tier) ?? []), [all.data]);
  const sorting: SortingState = fromSortParam(sort);
  const trend = useQuery({
    queryKey: ["trend", TREND_DAYS],
    queryFn: () => unwrap(assignmentTrendApiAssignmentsTrendGet({ query: { days: TREND_DAYS } })),
  });

  return (
    <div>
      <PageHeader title="Territories" description="Territories of the active ruleset, with their advisors and clients" />
      <Tabs defaultValue="table">
        <div className="mb-4 flex flex-wrap items-center gap-2">
          <form
            className="relative"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              set("q", q.trim() || undefined);
            }}
          >
            <Search className="absolute top-2.5 left-2.5 size-4 text-muted-foreground" aria-hidden />
            <Input type="search" aria-label="Search territories" placeholder="Search territories" className="w-56 pl-8" value={q} onChange={(e) => setQ(e.target.value)} />
          </form>
          <FilterSelect label="Region" value={region} options={REGIONS} onChange={(v) => set("region", v)} />
          <FilterSelect label="Segment" value={segment} options={SEGMENTS} onChange={(v) => set("segment", v)} />
          <FilterSelect label="Tier" value={tier} options={tiers} onChange={(v) => set("tier", v)} />
          <TabsList className="ml-auto">
            <TabsTrigger value="table"><List aria-hidden /> Table</TabsTrigger>
            <TabsTrigger value="cards"><LayoutGrid aria-hidden /> Cards</TabsTrigger>
          </TabsList>
        </div>
        <QueryView
          query={query}
          isEmpty={(d) => d.items.length === 0}
          empty={<EmptyState title="No territory matches these filters">Clear a filter to see more.</EmptyState>}
        >
          {(data) => (
            <>
              <TabsContent value="table" className="mt-0">
                <Card>
                  <DataTable
                    caption="Territories"
                    columns={territoryColumns}
                    data={data.items}
                    getRowId={(t) => t.territory_id}
                    sorting={sorting}
                    onSortingChange={(s) => set("sort", toSortParam(s))}
                  />
                </Card>
                <p className="mt-2 text-xs text-muted-foreground">{formatCount(data.total)} territories</p>
              </TabsContent>
              <TabsContent value="cards" className="mt-0">
                <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                  {data.items.map((t) => (
                    <button
                      type="button"
                      key={t.territory_id}
                      onClick={() => navigate(`/territories/${encodeURIComponent(t.territory_id)}`)}
                      className="rounded-xl text-left focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
                    >
                      <Card className="h-full transition-colors hover:border-primary/40">
                        <CardHeader className="pb-2">
                          <CardTitle className="text-base">{t.name}</CardTitle>
                          <div className="flex flex-wrap gap-1">
                            <Badge variant="secondary">{t.region ?? "—"}</Badge>
                            {t.segment ? <Badge variant="outline">{t.segment}</Badge> : null}
                            {t.tier ? <Badge variant="outline">tier {t.tier}</Badge> : null}
                          </div>
                        </CardHeader>
                        <CardContent>
                          <p className="text-2xl font-semibold tabular-nums">{formatCount(t.client_count)}</p>
                          <p className="text-xs text-muted-foreground">clients</p>
                          <p className="mt-2 truncate text-sm text-muted-foreground">
                            {t.advisors.map((a) => a.name ?? a.advisor_id).join(", ") || "no advisor"}
                          </p>
                        </CardContent>
                      </Card>
                    </button>
                  ))}
                </div>
              </TabsContent>
            </>
          )}
        </QueryView>
        <div className="mt-4 grid gap-4 lg:grid-cols-2">
          <Card>
            <CardHeader>
              <CardTitle>Distribution</CardTitle>
              <CardDescription>Clients per territory, for these filters</CardDescription>
            </CardHeader>
            <CardContent>
              <QueryView query={query} rows={4} isEmpty={(d) => territoryDistribution(d.items, 8).length === 0} empty={<EmptyState title="No clients in these territories" />}>
                {(d) => (
                  <Suspense fallback={<Skeleton className="h-60 w-full" />}>
                    <DistributionChart slices={territoryDistribution(d.items, 8)} />
                  </Suspense>
                )}
              </QueryView>
            </CardContent>
          </Card>
          <Card>
            <CardHeader>
              <CardTitle>Trend</CardTitle>
              <CardDescription>Assignment changes per day, last {TREND_DAYS} days</CardDescription>
            </CardHeader>
            <CardContent>
              <QueryView query={trend} rows={4}>
                {(t) => (
                  <Suspense fallback={<Skeleton className="h-60 w-full" />}>
                    <TrendChart series={trendSeries(t.points, TREND_DAYS, new Date())} />
                  </Suspense>
                )}
              </QueryView>
            </CardContent>
          </Card>
        </div>
      </Tabs>
    </div>
  );
}
