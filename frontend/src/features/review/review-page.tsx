import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { listConflictsApiConflictsGet, reviewQueueApiDedupeReviewGet } from "@/client/sdk.gen";
import type { ConflictKind, DedupeReviewItem, Severity } from "@/client/types.gen";
import { FilterSelect } from "@/components/filter-select";
import { EmptyState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { unwrap } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { formatCount, formatDate, formatPercent } from "@/lib/format";
import { AcknowledgeButton, DedupeActions } from "./review-actions";

const KINDS: ConflictKind[] = [
  "multi_territory",
  "whitelist_blacklist_clash",
  "no_territory",
  "advisor_over_capacity",
  "orphaned_assignment",
  "hierarchy_advisor_mismatch",
];
const SEVERITIES: Severity[] = ["info", "warning", "error"];

interface Evidence {
  candidate_client_id?: string;
  confidence?: number;
  field_scores?: Record<string, number>;
  reasons?: string[];
}

function evidenceList(e: DedupeReviewItem["evidence"]): Evidence[] {
  return (Array.isArray(e) ? e : [e]) as Evidence[];
}

function Conflicts() {
  const { can } = useAuth();
  const [kind, setKind] = useState<ConflictKind>();
  const [severity, setSeverity] = useState<Severity>();
  const conflicts = useQuery({
    queryKey: ["conflicts", kind, severity],
    queryFn: () => unwrap(listConflictsApiConflictsGet({ query: { kind, severity, limit: 200 } })),
  });
  return (
    <>
      <div className="mb-3 flex flex-wrap gap-2">
        <FilterSelect label="Kind" value={kind} options={KINDS} onChange={(v) => setKind(v as ConflictKind | undefined)} className="w-56" />
        <FilterSelect label="Severity" value={severity} options={SEVERITIES} onChange={(v) => setSeverity(v as Severity | undefined)} />
      </div>
      <Card>
        <CardContent className="p-2">
          <QueryView
            query={conflicts}
            isEmpty={(c) => c.items.length === 0}
            empty={<EmptyState title="No open conflicts">The rules found no clash, gap or over-capacity advisor in your regions.</EmptyState>}
          >
            {(c) => (
              <Table aria-label="Open conflicts">
                <TableHeader>
                  <TableRow>
                    <TableHead>Kind</TableHead>
                    <TableHead>Client</TableHead>
                    <TableHead>Detail</TableHead>
                    <TableHead>Last seen</TableHead>
                    {can.editRules ? <TableHead><span className="sr-only">Actions</span></TableHead> : null}
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {c.items.map((x) => (
                    <TableRow key={x.conflict_id}>
                      <TableCell><Badge variant={x.severity === "error" ? "destructive" : x.severity === "warning" ? "warning" : "secondary"}>{x.kind}</Badge></TableCell>
                      <TableCell>{x.client_id ? <Link className="text-primary hover:underline" to={`/clients/${encodeURIComponent(x.client_id)}`}>{x.client_id}</Link> : "—"}</TableCell>
                      <TableCell className="max-w-md text-sm">{x.detail}</TableCell>
                      <TableCell className="text-xs text-muted-foreground">{formatDate(x.last_seen_at)}</TableCell>
                      {can.editRules ? <TableCell><AcknowledgeButton conflict={x} /></TableCell> : null}
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
          </QueryView>
        </CardContent>
      </Card>
    </>
  );
}

function Duplicates() {
  const { can } = useAuth();
  const queue = useQuery({
    queryKey: ["dedupe-review"],
    queryFn: () => unwrap(reviewQueueApiDedupeReviewGet({ query: { limit: 100 } })),
  });
  return (
    <QueryView query={queue} isEmpty={(q) => q.items.length === 0} empty={<EmptyState title="The review queue is empty" />}>
      {(q) => (
        <div className="space-y-3">
          <p className="text-sm text-muted-foreground">{formatCount(q.total)} possible duplicates wait for a reviewer</p>
          {q.items.map((item) => (
            <Card key={item.event_id} data-testid="review-item">
              <CardContent className="flex flex-wrap items-start justify-between gap-4 p-4">
                <div className="min-w-0 space-y-1">
                  <p className="font-medium">
                    <Link className="hover:underline" to={`/clients/${encodeURIComponent(item.client_id)}`}>{item.client_name ?? item.client_id}</Link>{" "}
                    <span className="font-mono text-xs text-muted-foreground">{item.source_key}</span>
                  </p>
                  {evidenceList(item.evidence).map((e, i) => (
                    <div key={i} className="text-sm">
                      <p>
                        looks like{" "}
                        {e.candidate_client_id ? <Link className="text-primary underline underline-offset-2" to={`/clients/${encodeURIComponent(e.candidate_client_id)}`}>{e.candidate_client_id}</Link> : "?"}{" "}
                        <Badge variant="warning">{formatPercent(e.confidence)} confidence</Badge>
                      </p>
                      <div className="mt-1 flex flex-wrap gap-1">
                        {Object.entries(e.field_scores ?? {}).map(([f, s]) => (
                          <Badge key={f} variant={s > 0 ? "success" : s < 0 ? "destructive" : "secondary"}>{f} {s > 0 ? "+" : ""}{s}</Badge>
                        ))}
                      </div>
                      <p className="mt-1 text-xs text-muted-foreground">{(e.reasons ?? []).join(" · ")}</p>
                    </div>
                  ))}
                </div>
                {can.decideDuplicates ? <DedupeActions item={item} /> : null}
              </CardContent>
            </Card>
          ))}
        </div>
      )}
    </QueryView>
  );
}

export default function ReviewPage() {
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const tab = can.steward && params.get("tab") === "duplicates" ? "duplicates" : "conflicts";
  return (
    <div>
      <PageHeader title="Conflicts and review" description="What the rules could not settle, and records that may be the same organisation" />
      <Tabs value={tab} onValueChange={(v) => setParams(v === "conflicts" ? {} : { tab: v }, { replace: true })}>
        <TabsList>
          <TabsTrigger value="conflicts">Conflicts</TabsTrigger>
          {can.steward ? <TabsTrigger value="duplicates">Dedupe review</TabsTrigger> : null}
        </TabsList>
        <TabsContent value="conflicts"><Conflicts /></TabsContent>
        {can.steward ? <TabsContent value="duplicates"><Duplicates /></TabsContent> : null}
      </Tabs>
    </div>
  );
}
