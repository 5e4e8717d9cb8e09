import { useQuery } from "@tanstack/react-query";
import { Activity, AlertTriangle, Building2, CalendarClock, ClipboardCheck, Map, UserX, Users } from "lucide-react";
import { lazy, Suspense } from "react";
import {
  assignmentTrendApiAssignmentsTrendGet,
  getSummaryApiSummaryGet,
  listTerritoriesApiTerritoriesGet,
} from "@/client/sdk.gen";
import { PageHeader, QueryView, EmptyState } from "@/components/states";
import { StatCard } from "@/components/stat-card";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { unwrap } from "@/lib/api";
import { formatCount } from "@/lib/format";
import { recentChanges, regionSlices, territoryDistribution, trendSeries } from "./chart-data";

const TrendChart = lazy(() => import("./home-charts").then((m) => ({ default: m.TrendChart })));
const DistributionChart = lazy(() =>
  import("./home-charts").then((m) => ({ default: m.DistributionChart })),
);
const RegionChart = lazy(() => import("./home-charts").then((m) => ({ default: m.RegionChart })));

const TREND_DAYS = 30;
const chartFallback = <Skeleton className="h-60 w-full" />;

export function HomePage() {
  const summary = useQuery({
    queryKey: ["summary"],
    queryFn: () => unwrap(getSummaryApiSummaryGet()),
  });
  const trend = useQuery({
    queryKey: ["trend", TREND_DAYS],
    queryFn: () => unwrap(assignmentTrendApiAssignmentsTrendGet({ query: { days: TREND_DAYS } })),
  });
  const territories = useQuery({
    queryKey: ["territories", "all"],
    queryFn: () => unwrap(listTerritoriesApiTerritoriesGet({ query: { limit: 500 } })),
  });
  const series = trend.data ? trendSeries(trend.data.points, TREND_DAYS, new Date()) : [];
  const recent = recentChanges(series);

  return (
    <div>
      <PageHeader
        title="Overview"
        description={
          summary.data?.regions
            ? `Your regions: ${summary.data.regions.join(", ")}`
            : "Every region, from the warehouse"
        }
        actions={
          summary.data?.active_ruleset_version ? (
            <Badge variant="outline">Ruleset {summary.data.active_ruleset_version}</Badge>
          ) : null
        }
      />
      <QueryView query={summary} rows={3}>
        {(s) => (
          <div className="grid grid-cols-2 gap-4 lg:grid-cols-4">
            <StatCard label="Clients" value={formatCount(s.clients)} hint={`${formatCount(s.unassigned_clients)} unassigned`} icon={Building2} to="/clients" />
            <StatCard label="Territories" value={formatCount(s.territories)} hint={`${formatCount(s.advisors)} advisors`} icon={Map} to="/territories" />
            <StatCard
              label="Changed today"
              value={trend.data ? formatCount(recent.today) : "…"}
              hint="assignment changes (UTC day)"
              icon={CalendarClock}
            />
            <StatCard label="Changed this week" value={formatCount(s.assignment_changes_7d)} hint="last 7 days" icon={Activity} />
            <StatCard label="Open conflicts" value={formatCount(s.open_conflicts)} icon={AlertTriangle} to="/review" />
            {s.open_dedupe_reviews !== null && s.open_dedupe_reviews !== undefined ? (
              <StatCard label="Review queue" value={formatCount(s.open_dedupe_reviews)} hint="possible duplicates" icon={ClipboardCheck} to="/review?tab=duplicates" />
            ) : null}
            <StatCard label="Unassigned" value={formatCount(s.unassigned_clients)} hint="clients without a territory" icon={UserX} />
            <StatCard label="Advisors" value={formatCount(s.advisors)} icon={Users} to="/advisors" />
          </div>
        )}
      </QueryView>
      <div className="mt-6 grid gap-4 lg:grid-cols-3">
        <Card className="lg:col-span-2">
          <CardHeader>
            <CardTitle>Assignment trend</CardTitle>
            <CardDescription>Assignment changes per day, last {TREND_DAYS} days</CardDescription>
          </CardHeader>
          <CardContent>
            <QueryView query={trend} rows={4} isEmpty={(t) => t.points.length === 0} empty={<EmptyState title="No assignment changes in this period" />}>
              {() => (
                <Suspense fallback={chartFallback}>
                  <TrendChart series={series} />
                </Suspense>
              )}
            </QueryView>
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>Clients by region</CardTitle>
            <CardDescription>Golden clients you can see</CardDescription>
          </CardHeader>
          <CardContent>
            <QueryView query={summary} rows={4} isEmpty={(s) => Object.keys(s.clients_by_region).length === 0} empty={<EmptyState title="No clients yet" />}>
              {(s) => (
                <Suspense fallback={chartFallback}>
                  <RegionChart slices={regionSlices(s.clients_by_region)} />
                </Suspense>
              )}
            </QueryView>
          </CardContent>
        </Card>
      </div>
      <Card className="mt-4">
        <CardHeader>
          <CardTitle>Territory distribution</CardTitle>
          <CardDescription>Clients per territory (largest ten, the rest as “Other”)</CardDescription>
        </CardHeader>
        <CardContent>
          <QueryView
            query={territories}
            rows={5}
            isEmpty={(t) => territoryDistribution(t.items).length === 0}
            empty={<EmptyState title="No territory has clients yet" />}
          >
            {(t) => (
              <Suspense fallback={chartFallback}>
                <DistributionChart slices={territoryDistribution(t.items)} />
              </Suspense>
            )}
          </QueryView>
        </CardContent>
      </Card>
    </div>
  );
}
