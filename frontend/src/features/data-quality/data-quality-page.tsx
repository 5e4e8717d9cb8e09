import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { listRejectionsApiDataQualityRejectionsGet, rejectionSummaryApiDataQualityRejectionsSummaryGet } from "@/client/sdk.gen";
import { EmptyState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { unwrap } from "@/lib/api";
import { formatCount, formatDate } from "@/lib/format";
import { cn } from "@/lib/utils";
import { QuarantineSection } from "./quarantine-section";

export default function DataQualityPage() {
  const [reason, setReason] = useState<string>();
  const summary = useQuery({
    queryKey: ["rejections-summary"],
    queryFn: () => unwrap(rejectionSummaryApiDataQualityRejectionsSummaryGet()),
  });
  const records = useQuery({
    queryKey: ["rejections", reason],
    queryFn: () => unwrap(listRejectionsApiDataQualityRejectionsGet({ query: { reason, limit: 100 } })),
  });
  const max = Math.max(1, ...(summary.data?.by_reason.map((r) => r.records) ?? [1]));
  return (
    <div>
      <PageHeader
        title="Data quality"
        description="Records a stage refused (dead letters), by reason, and optional values quarantined on records that were kept. Nothing is dropped: a refused record keeps its reason and its original bytes, a quarantined value stays on its client."
      />
      <div className="grid gap-4 lg:grid-cols-3">
        <Card>
          <CardHeader>
            <CardTitle>Refused records by reason</CardTitle>
            <CardDescription>{summary.data ? `${formatCount(summary.data.total)} in all` : " "}</CardDescription>
          </CardHeader>
          <CardContent>
            <QueryView query={summary} rows={4} isEmpty={(s) => s.total === 0} empty={<EmptyState title="No refused records">Every record so far was accepted.</EmptyState>}>
              {(s) => (
                <ul className="space-y-1">
                  {s.by_reason.map((r) => {
                    const selected = reason === r.reason;
                    return (
                      <li key={`${r.stage}:${r.reason}`}>
                        <button
                          type="button"
                          aria-pressed={selected}
                          onClick={() => setReason(selected ? undefined : r.reason)}
                          className={cn("w-full rounded-md p-2 text-left hover:bg-muted focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none", selected && "bg-accent")}
                        >
                          <div className="flex items-center justify-between gap-2 text-sm">
                            <span><span className="font-mono">{r.reason}</span> <span className="text-xs text-muted-foreground">at {r.stage}</span></span>
                            <span className="tabular-nums">{formatCount(r.records)}</span>
                          </div>
                          <div className="mt-1 h-1.5 rounded-full bg-muted" aria-hidden>
                            <div className="h-full rounded-full bg-chart-4" style={{ width: `${(r.records / max) * 100}%` }} />
                          </div>
                        </button>
                      </li>
                    );
                  })}
                </ul>
              )}
            </QueryView>
          </CardContent>
        </Card>
        <Card className="lg:col-span-2">
          <CardHeader className="flex flex-row items-center justify-between gap-2">
            <div>
              <CardTitle>Latest refused records</CardTitle>
              <CardDescription>{reason ? `reason ${reason}` : "every reason"} · the fields the errors name</CardDescription>
            </div>
            {reason ? <Button variant="ghost" size="sm" onClick={() => setReason(undefined)}>Show all</Button> : null}
          </CardHeader>
          <CardContent>
            <QueryView query={records} rows={6} isEmpty={(r) => r.items.length === 0} empty={<EmptyState title="No refused records" />}>
              {(r) => (
                <Table aria-label="Refused records">
                  <TableHeader>
                    <TableRow>
                      <TableHead>Record</TableHead>
                      <TableHead>Reason</TableHead>
                      <TableHead>Fields</TableHead>
                      <TableHead>Message</TableHead>
                      <TableHead>When</TableHead>
                    </TableRow>
                  </TableHeader>
                  <TableBody>
                    {r.items.map((x) => (
                      <TableRow key={x.event_id}>
                        <TableCell className="font-mono text-xs">{x.source_key ?? "—"}{x.row_number ? <span className="block text-muted-foreground">row {x.row_number}</span> : null}</TableCell>
                        <TableCell><Badge variant="warning">{x.reason}</Badge></TableCell>
                        <TableCell><span className="flex flex-wrap gap-1">{x.fields.map((f) => <Badge key={f} variant="outline">{f}</Badge>)}</span></TableCell>
                        <TableCell className="max-w-xs text-xs text-muted-foreground">{x.messages.join("; ") || "—"}</TableCell>
                        <TableCell className="text-xs text-muted-foreground whitespace-nowrap">{formatDate(x.occurred_at)}</TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              )}
            </QueryView>
          </CardContent>
        </Card>
      </div>
      <QuarantineSection />
    </div>
  );
}
