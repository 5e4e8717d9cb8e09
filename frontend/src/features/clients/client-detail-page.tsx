import { useQuery } from "@tanstack/react-query";
import { ArrowLeft, ArrowRight, History, MapPin, ShieldAlert, TriangleAlert } from "lucide-react";
import type { ReactNode } from "react";
import { Link, useParams } from "react-router";
import { getClientApiClientsClientIdGet, listConflictsApiConflictsGet } from "@/client/sdk.gen";
import type { AssignmentRecord, FieldIssueRecord, GoldenRecord, SourceRecord } from "@/client/types.gen";
import { EmptyState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { unwrap } from "@/lib/api";
import { formatCount, formatDate, formatUsd } from "@/lib/format";
import { useAdvisorName } from "@/features/advisors/use-advisor-names";
import { issuesBySource } from "@/features/data-quality/quarantine-data";
import { RawValue } from "@/features/data-quality/raw-value";
import { DecisionTrace } from "./decision-trace";
import { SourceMatchEvidence } from "./source-match";

function Field({ label, value }: { label: string; value: ReactNode }) {
  return (
    <div>
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="text-sm break-words">{value ?? "—"}</dd>
    </div>
  );
}

function Golden({ g, masked }: { g: GoldenRecord; masked: string[] }) {
  return (
    <dl className="grid grid-cols-2 gap-x-4 gap-y-3 sm:grid-cols-3">
      <Field label="Segment" value={g.segment} />
      <Field label="Region" value={g.region} />
      <Field label="Country" value={g.country} />
      <Field label="City" value={[g.city, g.state, g.postal_code].filter(Boolean).join(", ") || null} />
      <Field label="Address" value={g.address} />
      <Field label="Industry" value={g.industry} />
      <Field label="AUM" value={formatUsd(g.aum_usd)} />
      <Field label="Annual revenue" value={formatUsd(g.annual_revenue_usd)} />
      <Field label="Employees" value={formatCount(g.employee_count)} />
      <Field label="LEI" value={g.lei ? <span className="font-mono text-xs">{g.lei}</span> : null} />
      <Field label="Tax id" value={masked.includes("tax_id") ? <Badge variant="outline">masked for your role</Badge> : g.tax_id} />
      <Field label="Website" value={g.website} />
      <Field label="Parent" value={g.parent_client_id ? <Link className="text-primary hover:underline" to={`/clients/${encodeURIComponent(g.parent_client_id)}`}>{g.parent_client_id}</Link> : null} />
      <Field label="Dedupe decision" value={<Badge variant="secondary">{g.decision}</Badge>} />
      <Field label="Version" value={`v${g.version} · ${formatDate(g.updated_at)}`} />
    </dl>
  );
}

/** The client's quarantined values, per source record: the record was kept and the field left empty. */
function QuarantinedValues({ issues, sources, masked }: { issues: FieldIssueRecord[]; sources: SourceRecord[]; masked: string[] }) {
  if (issues.length === 0) return <EmptyState title="No quarantined values">Every optional value of its source records passed validation.</EmptyState>;
  const byKey = new Map(sources.map((s) => [s.source_key, s]));
  return (
    <Table aria-label="Quarantined values">
      <TableHeader>
        <TableRow>
          <TableHead>Source record</TableHead>
          <TableHead>Field</TableHead>
          <TableHead>Code</TableHead>
          <TableHead>Value as received</TableHead>
          <TableHead>When</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {issuesBySource(issues).flatMap(({ sourceKey, issues: group }) =>
          group.map((i, n) => (
            <TableRow key={`${sourceKey}:${n}`}>
              {n === 0 ? (
                <TableCell rowSpan={group.length} className="align-top">
                  <span className="font-mono text-xs">{sourceKey}</span>
                  {byKey.get(sourceKey)?.name ? <span className="block text-xs text-muted-foreground">{byKey.get(sourceKey)?.name}</span> : null}
                </TableCell>
              ) : null}
              <TableCell><Badge variant="outline">{i.field}</Badge></TableCell>
              <TableCell>
                <Badge variant="warning">{i.code}</Badge>
                {i.message ? <span className="mt-1 block max-w-xs text-xs text-muted-foreground">{i.message}</span> : null}
              </TableCell>
              <TableCell><RawValue issue={i} masked={masked} /></TableCell>
              <TableCell className="text-xs whitespace-nowrap text-muted-foreground">{formatDate(i.occurred_at)}</TableCell>
            </TableRow>
          )),
        )}
      </TableBody>
    </Table>
  );
}

function Timeline({ history }: { history: AssignmentRecord[] }) {
  const advisorName = useAdvisorName();
  if (history.length === 0) return <EmptyState title="Never assigned yet" />;
  return (
    <ol className="relative space-y-5 border-l pl-6" aria-label="Assignment history">
      {history.map((h) => (
        <li key={h.event_id} className="relative">
          <span className={`absolute top-1.5 -left-[1.84rem] size-3 rounded-full border-2 border-background ${h.is_current ? "bg-primary" : "bg-muted-foreground/50"}`} aria-hidden />
          <p className="text-xs text-muted-foreground">
            {formatDate(h.effective_from)}
            {h.effective_to ? ` → ${formatDate(h.effective_to)}` : " → now"}
          </p>
          <p className="mt-0.5 flex flex-wrap items-center gap-1.5 text-sm font-medium">
            {h.previous_territory_id ?? "unassigned"} <ArrowRight className="size-3.5" aria-hidden /> {h.territory_id ?? "unassigned"}
            {h.is_current ? <Badge>current</Badge> : null}
          </p>
          <p className="text-sm text-muted-foreground">
            {advisorName(h.advisor)} · rule {h.rule_id ?? "—"} · ruleset {h.ruleset_version} · by {h.changed_by}
          </p>
        </li>
      ))}
    </ol>
  );
}

export default function ClientDetailPage() {
  const { clientId = "" } = useParams();
  const advisorName = useAdvisorName();
  const detail = useQuery({
    queryKey: ["client", clientId],
    queryFn: () => unwrap(getClientApiClientsClientIdGet({ path: { client_id: clientId } })),
  });
  const conflicts = useQuery({
    queryKey: ["conflicts", "client", clientId],
    queryFn: () => unwrap(listConflictsApiConflictsGet({ query: { client_id: clientId, limit: 50 } })),
  });
  return (
    <div>
      <Link to="/clients" className="mb-3 inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
        <ArrowLeft className="size-4" aria-hidden /> Client hierarchy
      </Link>
      <QueryView query={detail} rows={10}>
        {(d) => {
          const current = d.current_assignment;
          const quarantined = (key: string) => (d.field_issues ?? []).filter((i) => i.source_key === key).length;
          return (
            <>
              <PageHeader
                title={d.golden.name}
                description={<span className="font-mono text-xs">{d.golden.client_id}</span>}
                actions={
                  current ? (
                    <Badge variant="default" className="px-3 py-1 text-sm">
                      <MapPin className="size-3.5" aria-hidden /> {current.territory_id ?? "unassigned"} · {advisorName(current.advisor)}
                    </Badge>
                  ) : (
                    <Badge variant="warning">Unassigned</Badge>
                  )
                }
              />
              <div className="grid gap-4 lg:grid-cols-5">
                <Card className="lg:col-span-3">
                  <CardHeader>
                    <CardTitle>Why here</CardTitle>
                    <CardDescription>
                      {current ? (
                        <>
                          Territory <Link className="text-primary underline underline-offset-2" to={`/territories/${encodeURIComponent(current.territory_id ?? "")}`}>{current.territory_id}</Link>, tier {current.tier ?? "—"}, since {formatDate(current.effective_from)}
                        </>
                      ) : (
                        "The rules have not placed this client yet."
                      )}
                    </CardDescription>
                  </CardHeader>
                  <CardContent>{current ? <DecisionTrace assignment={current} /> : <EmptyState title="No decision yet" />}</CardContent>
                </Card>
                <Card className="lg:col-span-2">
                  <CardHeader>
                    <CardTitle>Golden record</CardTitle>
                    <CardDescription>The surviving value of every field</CardDescription>
                  </CardHeader>
                  <CardContent><Golden g={d.golden} masked={d.masked} /></CardContent>
                </Card>
              </div>
              {/* Full width: six columns and the match evidence do not fit three fifths of a
                  1440 px screen without scrolling sideways. */}
              <Card className="mt-4">
                  <CardHeader>
                    <CardTitle>Source records</CardTitle>
                    <CardDescription>{d.source_records.length} records from upstream CRMs resolved into this client, each with why dedupe placed it here</CardDescription>
                  </CardHeader>
                  <CardContent>
                    {d.source_records.length === 0 ? (
                      <EmptyState title="No source records" />
                    ) : (
                      <Table aria-label="Source records">
                        <TableHeader>
                          <TableRow>
                            <TableHead>Source</TableHead>
                            <TableHead>Name as typed</TableHead>
                            <TableHead>Country</TableHead>
                            <TableHead>LEI</TableHead>
                            <TableHead>Match evidence</TableHead>
                            <TableHead>Updated</TableHead>
                          </TableRow>
                        </TableHeader>
                        <TableBody>
                          {d.source_records.map((s) => (
                            <TableRow key={s.source_key}>
                              <TableCell>
                                <Badge variant="outline">{s.source_system}</Badge> <span className="font-mono text-xs">{s.source_id}</span>
                                {quarantined(s.source_key) ? <Badge variant="warning" className="ml-1">{quarantined(s.source_key)} quarantined</Badge> : null}
                              </TableCell>
                              <TableCell>{s.name ?? "—"}</TableCell>
                              <TableCell>{s.country ?? "—"}</TableCell>
                              <TableCell className="font-mono text-xs">{s.lei ?? "—"}</TableCell>
                              <TableCell className="align-top whitespace-normal"><SourceMatchEvidence match={s.match} clientId={d.golden.client_id} /></TableCell>
                              <TableCell className="text-xs text-muted-foreground">{formatDate(s.updated_at)}</TableCell>
                            </TableRow>
                          ))}
                        </TableBody>
                      </Table>
                    )}
                  </CardContent>
              </Card>
              <Card className="mt-4">
                  <CardHeader>
                    <CardTitle className="flex items-center gap-2"><TriangleAlert className="size-4" aria-hidden /> Rule conflicts</CardTitle>
                    <CardDescription>Conflicts the rules found for this client</CardDescription>
                  </CardHeader>
                  <CardContent>
                    <QueryView query={conflicts} rows={2} isEmpty={(c) => c.items.length === 0} empty={<EmptyState title="No conflict recorded" />}>
                      {(c) => (
                        <ul className="space-y-2">
                          {c.items.map((x) => (
                            <li key={x.conflict_id} className="rounded-md border p-3 text-sm">
                              <div className="flex items-center gap-2">
                                <Badge variant={x.severity === "error" ? "destructive" : "warning"}>{x.kind}</Badge>
                                {x.resolved ? <Badge variant="success">resolved</Badge> : null}
                              </div>
                              <p className="mt-1 text-muted-foreground">{x.detail}</p>
                            </li>
                          ))}
                        </ul>
                      )}
                    </QueryView>
                  </CardContent>
              </Card>
              <Card className="mt-4">
                <CardHeader>
                  <CardTitle className="flex items-center gap-2"><ShieldAlert className="size-4" aria-hidden /> Quarantined values</CardTitle>
                  <CardDescription>
                    Optional values its source records arrived with that failed validation: each field was left empty and the client still got its territory.
                  </CardDescription>
                </CardHeader>
                <CardContent><QuarantinedValues issues={d.field_issues ?? []} sources={d.source_records} masked={d.masked} /></CardContent>
              </Card>
              <Card className="mt-4">
                <CardHeader>
                  <CardTitle className="flex items-center gap-2"><History className="size-4" aria-hidden /> Assignment history</CardTitle>
                  <CardDescription>Newest first</CardDescription>
                </CardHeader>
                <CardContent><Timeline history={d.history} /></CardContent>
              </Card>
            </>
          );
        }}
      </QueryView>
    </div>
  );
}
