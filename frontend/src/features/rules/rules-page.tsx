import { useMutation, useQuery } from "@tanstack/react-query";
import { AlertTriangle, ArrowRight, Eye, FileUp, Rocket, Wand2 } from "lucide-react";
import { useState } from "react";
import { Link } from "react-router";
import { toast } from "sonner";
import {
  getRulesetApiRulesetsVersionsVersionGet,
  listRulesetsApiRulesetsGet,
  previewRulesetApiRulesetsPreviewPost,
  publishRulesetApiRulesetsPost,
} from "@/client/sdk.gen";
import type { RulesetCandidate } from "@/client/types.gen";
import { EmptyState, ErrorState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { Textarea } from "@/components/ui/textarea";
import { unwrap } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { formatCount, formatDate } from "@/lib/format";
import { advisorChanges, candidateBody, readDiff, territoryChanges, type PreviewDiff } from "./preview-data";

function Delta({ before, after }: { before: number; after: number }) {
  const d = after - before;
  return (
    <span className="inline-flex items-center gap-1 tabular-nums">
      {before} <ArrowRight className="size-3" aria-hidden /> {after}
      <span className={d > 0 ? "text-emerald-700 dark:text-emerald-400" : d < 0 ? "text-destructive" : "text-muted-foreground"}>
        ({d > 0 ? "+" : ""}{d})
      </span>
    </span>
  );
}

function DiffView({ diff }: { diff: PreviewDiff }) {
  const territories = territoryChanges(diff);
  const advisors = advisorChanges(diff);
  return (
    <div className="space-y-4" data-testid="preview-diff">
      {diff.refused ? (
        <div role="alert" className="flex items-center gap-2 rounded-md border border-destructive/50 bg-destructive/10 p-3 text-sm">
          <AlertTriangle className="size-4 text-destructive" aria-hidden /> This candidate causes a conflict that refuses the ruleset: publishing it would be refused.
        </div>
      ) : null}
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        {[
          ["Clients re-decided", diff.clients],
          ["Would move", diff.moved],
          ["Held back (churn guard)", diff.held_back],
          ["New conflicts", diff.new_conflicts.length],
        ].map(([label, n]) => (
          <div key={label} className="rounded-lg border p-3">
            <p className="text-xs text-muted-foreground">{label}</p>
            <p className="text-xl font-semibold tabular-nums" data-testid={`diff-${label}`}>{formatCount(n as number)}</p>
          </div>
        ))}
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <div>
          <h4 className="mb-2 text-sm font-medium">Clients by territory</h4>
          {territories.length === 0 ? <p className="text-sm text-muted-foreground">No territory changes size.</p> : (
            <Table aria-label="Clients by territory, before and after">
              <TableHeader><TableRow><TableHead>Territory</TableHead><TableHead>Before → after</TableHead></TableRow></TableHeader>
              <TableBody>
                {territories.map((t) => (
                  <TableRow key={t.territory_id}><TableCell>{t.territory_id}</TableCell><TableCell><Delta before={t.before} after={t.after} /></TableCell></TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </div>
        <div>
          <h4 className="mb-2 text-sm font-medium">Advisors: clients and capacity</h4>
          {advisors.length === 0 ? <p className="text-sm text-muted-foreground">No advisor's load changes.</p> : (
            <Table aria-label="Advisor load and capacity, before and after">
              <TableHeader><TableRow><TableHead>Advisor</TableHead><TableHead>Clients</TableHead><TableHead>Capacity</TableHead><TableHead /></TableRow></TableHeader>
              <TableBody>
                {advisors.map((a) => (
                  <TableRow key={a.advisor}>
                    <TableCell className="text-xs">{a.advisor}</TableCell>
                    <TableCell><Delta before={a.before} after={a.after} /></TableCell>
                    <TableCell><Delta before={a.capacityBefore} after={a.capacityAfter} /></TableCell>
                    <TableCell>{a.over.length ? <Badge variant="destructive">over: {a.over.join(", ")}</Badge> : null}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </div>
      </div>
      <div>
        <h4 className="mb-2 text-sm font-medium">Moves {diff.moves_truncated ? "(the first ones)" : ""}</h4>
        {diff.moves.length === 0 ? <p className="text-sm text-muted-foreground">Nobody would move.</p> : (
          <Table aria-label="Moves">
            <TableHeader><TableRow><TableHead>Client</TableHead><TableHead>From</TableHead><TableHead>To</TableHead><TableHead>Rule</TableHead></TableRow></TableHeader>
            <TableBody>
              {diff.moves.slice(0, 100).map((m) => (
                <TableRow key={m.client_id}>
                  <TableCell className="font-mono text-xs"><Link className="text-primary hover:underline" to={`/clients/${encodeURIComponent(m.client_id)}`}>{m.client_id}</Link></TableCell>
                  <TableCell className="text-xs">{m.from_territory ?? "—"}<br /><span className="text-muted-foreground">{m.from_advisor ?? ""}</span></TableCell>
                  <TableCell className="text-xs">{m.to_territory ?? "—"}<br /><span className="text-muted-foreground">{m.to_advisor ?? ""}</span></TableCell>
                  <TableCell className="font-mono text-xs">{m.rule_id ?? "—"}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </div>
      {Object.keys(diff.new_conflicts_by_kind).length ? (
        <div className="flex flex-wrap gap-1">
          {Object.entries(diff.new_conflicts_by_kind).map(([k, n]) => <Badge key={k} variant="warning">{k}: {n}</Badge>)}
        </div>
      ) : null}
    </div>
  );
}

export default function RulesPage() {
  const { can } = useAuth();
  const versions = useQuery({
    queryKey: ["rulesets"],
    queryFn: () => unwrap(listRulesetsApiRulesetsGet({ query: { limit: 20 } })),
  });
  const activeVersion = versions.data?.items.find((v) => v.active)?.version;
  const active = useQuery({
    queryKey: ["ruleset", activeVersion],
    queryFn: () => unwrap(getRulesetApiRulesetsVersionsVersionGet({ path: { version: activeVersion ?? "" } })),
    enabled: Boolean(activeVersion),
  });
  const [text, setText] = useState("");
  const [comment, setComment] = useState("");
  const preview = useMutation({
    mutationFn: () => unwrap(previewRulesetApiRulesetsPreviewPost({ body: candidateBody(text) as RulesetCandidate })),
  });
  const publish = useMutation({
    mutationFn: () =>
      unwrap(publishRulesetApiRulesetsPost({ body: { ...(candidateBody(text) as RulesetCandidate), comment: comment || null } })),
    onSuccess: (a) => toast.success(`Published (event ${a.event_id.slice(0, 8)}): the rules service replays now`),
  });
  const doc = active.data?.document as Record<string, unknown[]> | undefined;

  return (
    <div>
      <PageHeader title="Rules" description="The active ruleset, and what a candidate would change before anyone publishes it" />
      <div className="grid gap-4 lg:grid-cols-3">
        <Card>
          <CardHeader>
            <CardTitle>Active ruleset</CardTitle>
            <CardDescription>{activeVersion ? `version ${activeVersion}` : "—"}</CardDescription>
          </CardHeader>
          <CardContent>
            <QueryView query={versions} rows={3} isEmpty={(v) => v.items.length === 0} empty={<EmptyState title="No ruleset published yet" />}>
              {(v) => (
                <div className="space-y-3">
                  {doc ? (
                    <dl className="grid grid-cols-3 gap-2 text-center">
                      {(["territories", "advisors", "rules"] as const).map((k) => (
                        <div key={k} className="rounded-md bg-muted p-2">
                          <dt className="text-xs text-muted-foreground">{k}</dt>
                          <dd className="text-lg font-semibold">{Array.isArray(doc[k]) ? doc[k].length : 0}</dd>
                        </div>
                      ))}
                    </dl>
                  ) : null}
                  <ul className="space-y-2 text-sm">
                    {v.items.map((r) => (
                      <li key={r.version} className="flex items-start justify-between gap-2">
                        <div>
                          <p className="font-mono">{r.version}</p>
                          <p className="text-xs text-muted-foreground">{formatDate(r.published_at)} · {r.published_by}</p>
                        </div>
                        {r.active ? <Badge variant="success">active</Badge> : null}
                      </li>
                    ))}
                  </ul>
                </div>
              )}
            </QueryView>
          </CardContent>
        </Card>
        <Card className="lg:col-span-2">
          <CardHeader>
            <CardTitle>Candidate</CardTitle>
            <CardDescription>Upload a YAML file, or start from the active ruleset and edit it. Preview changes nothing.</CardDescription>
          </CardHeader>
          <CardContent className="space-y-3">
            <div className="flex flex-wrap items-center gap-2">
              <Label htmlFor="candidate-file" className="inline-flex cursor-pointer items-center gap-2 rounded-md border px-3 py-2 text-sm font-medium hover:bg-accent">
                <FileUp className="size-4" aria-hidden /> Upload YAML
              </Label>
              <input
                id="candidate-file"
                type="file"
                accept=".yaml,.yml,.json,text/yaml,application/json"
                className="sr-only"
                onChange={async (e) => {
                  const file = e.target.files?.[0];
                  if (file) setText(await file.text());
                }}
              />
              <Button variant="outline" disabled={!active.data} onClick={() => active.data && setText(JSON.stringify({ ...active.data.document, version: `${activeVersion}-candidate` }, null, 2))}>
                <Wand2 /> Start from the active ruleset
              </Button>
            </div>
            <Label htmlFor="candidate" className="sr-only">Candidate ruleset</Label>
            <Textarea id="candidate" rows={14} value={text} onChange={(e) => setText(e.target.value)} placeholder="version: 2026.12.1&#10;territories: …" />
            <div className="flex flex-wrap items-center gap-2">
              {can.editRules ? (
                <Button onClick={() => preview.mutate()} disabled={!text.trim() || preview.isPending}>
                  <Eye /> {preview.isPending ? "Previewing…" : "Preview the diff"}
                </Button>
              ) : (
                <p className="text-sm text-muted-foreground">Previewing needs the CRM analyst or admin role.</p>
              )}
              {can.publish ? (
                <>
                  <Input aria-label="Publication comment" placeholder="Comment (why this change)" className="w-64" value={comment} onChange={(e) => setComment(e.target.value)} />
                  <Button variant="destructive" onClick={() => publish.mutate()} disabled={!text.trim() || publish.isPending || !preview.data}>
                    <Rocket /> Publish
                  </Button>
                </>
              ) : null}
            </div>
          </CardContent>
        </Card>
      </div>
      <Card className="mt-4">
        <CardHeader>
          <CardTitle>Preview</CardTitle>
          <CardDescription>
            {preview.data ? `${preview.data.diff.active_version ?? "active"} → ${preview.data.candidate_version}` : "Moves by territory and advisor, capacity before and after, conflicts"}
          </CardDescription>
        </CardHeader>
        <CardContent>
          {preview.isPending ? (
            <p className="text-sm text-muted-foreground" role="status">The rules service is re-deciding every client on a copy…</p>
          ) : preview.error ? (
            <ErrorState error={preview.error} />
          ) : preview.data ? (
            <DiffView diff={readDiff(preview.data.diff)} />
          ) : (
            <EmptyState title="No preview yet">Load a candidate and press “Preview the diff”.</EmptyState>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
