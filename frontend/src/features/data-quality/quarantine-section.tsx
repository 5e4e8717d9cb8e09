import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { ChevronLeft, ChevronRight } from "lucide-react";
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { dataQualityApiDataQualityGet, dataQualityIssuesApiDataQualityIssuesGet } from "@/client/sdk.gen";
import type { FieldIssueRecord } from "@/client/types.gen";
import { DataTable } from "@/components/data-table";
import { EmptyState, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { unwrap } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { formatCount, formatDate } from "@/lib/format";
import { cn } from "@/lib/utils";
import { pageWindow, tallyByCode, tallyByField, type Tally } from "./quarantine-data";
import { RawValue } from "./raw-value";

const PAGE_SIZE = 50;

function issueColumns(masked: readonly string[]): ColumnDef<FieldIssueRecord, unknown>[] {
  return [
    {
      id: "client",
      header: "Client",
      cell: ({ row }) => {
        const { client_id, client_name } = row.original;
        return client_id ? (
          <Link to={`/clients/${encodeURIComponent(client_id)}`} className="font-medium text-primary hover:underline">
            {client_name ?? client_id}
          </Link>
        ) : (
          <span className="text-muted-foreground">not deduplicated yet</span>
        );
      },
    },
    { id: "source_key", header: "Source record", cell: ({ row }) => <span className="font-mono text-xs">{row.original.source_key}</span> },
    { id: "field", header: "Field", cell: ({ row }) => <Badge variant="outline">{row.original.field}</Badge> },
    {
      id: "code",
      header: "Code",
      cell: ({ row }) => (
        <>
          <Badge variant="warning">{row.original.code}</Badge>
          {row.original.message ? <span className="mt-1 block max-w-xs text-xs text-muted-foreground">{row.original.message}</span> : null}
        </>
      ),
    },
    { id: "raw", header: "Value as received", cell: ({ row }) => <RawValue issue={row.original} masked={masked} /> },
    {
      id: "occurred_at",
      header: "When",
      cell: ({ row }) => <span className="text-xs whitespace-nowrap text-muted-foreground">{formatDate(row.original.occurred_at)}</span>,
    },
  ];
}

function TallyList({ label, tallies, selected, onSelect }: { label: string; tallies: Tally[]; selected?: string; onSelect: (key: string | undefined) => void }) {
  const max = Math.max(1, ...tallies.map((t) => t.issues));
  return (
    <ul className="space-y-1" aria-label={label}>
      {tallies.map((t) => {
        const on = selected === t.key;
        return (
          <li key={t.key}>
            <button
              type="button"
              aria-pressed={on}
              onClick={() => onSelect(on ? undefined : t.key)}
              className={cn("w-full rounded-md p-2 text-left hover:bg-muted focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none", on && "bg-accent")}
            >
              <div className="flex items-center justify-between gap-2 text-sm">
                <span className="font-mono">{t.key}</span>
                <span className="tabular-nums">
                  {formatCount(t.issues)}
                  {t.clients !== null ? <span className="text-xs text-muted-foreground"> · {formatCount(t.clients)} clients</span> : null}
                </span>
              </div>
              <div className="mt-1 h-1.5 rounded-full bg-muted" aria-hidden>
                <div className="h-full rounded-full bg-chart-2" style={{ width: `${(t.issues / max) * 100}%` }} />
              </div>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

const noIssues = <EmptyState title="No quarantined values">Every optional value received so far passed validation.</EmptyState>;

/**
 * Field-level quarantine: a record with a bad optional value is kept and assigned, the
 * field left empty and the value kept as an issue. The counts and values are those of the
 * clients within the caller's regions, PII masked as the API decides.
 */
export function QuarantineSection() {
  const { me } = useAuth();
  const [field, setField] = useState<string>();
  const [code, setCode] = useState<string>();
  const [offset, setOffset] = useState(0);
  const summary = useQuery({
    queryKey: ["data-quality-summary"],
    queryFn: () => unwrap(dataQualityApiDataQualityGet()),
  });
  const issues = useQuery({
    queryKey: ["data-quality-issues", field, code, offset],
    queryFn: () => unwrap(dataQualityIssuesApiDataQualityIssuesGet({ query: { field, code, limit: PAGE_SIZE, offset } })),
    placeholderData: keepPreviousData,
  });
  const masked = summary.data?.masked;
  const columns = useMemo(() => issueColumns(masked ?? []), [masked]);
  const filter = (set: (v: string | undefined) => void) => (v: string | undefined) => {
    set(v);
    setOffset(0);
  };
  const scope = me?.regions ? `within your regions (${me.regions.join(", ")})` : "every region";

  return (
    <section aria-labelledby="quarantine-heading" className="mt-8">
      <div className="mb-4">
        <h2 id="quarantine-heading" className="text-lg font-semibold tracking-tight">Quarantined values</h2>
        <p className="mt-1 text-sm text-muted-foreground">
          Optional values that failed validation. The record was kept and its client still got a territory; the field was left empty and the value kept here.{" "}
          {summary.data ? `${formatCount(summary.data.issues)} values on ${formatCount(summary.data.clients_with_issues)} clients, ${scope}.` : null}
        </p>
      </div>
      <div className="grid gap-4 lg:grid-cols-3">
        <Card>
          <CardHeader>
            <CardTitle>By field</CardTitle>
            <CardDescription>Choose one to list only its values</CardDescription>
          </CardHeader>
          <CardContent>
            <QueryView query={summary} rows={4} isEmpty={(s) => s.issues === 0} empty={<EmptyState title="None" />}>
              {(s) => <TallyList label="Quarantined values by field" tallies={tallyByField(s)} selected={field} onSelect={filter(setField)} />}
            </QueryView>
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>By code</CardTitle>
            <CardDescription>The rule the value broke</CardDescription>
          </CardHeader>
          <CardContent>
            <QueryView query={summary} rows={4} isEmpty={(s) => s.issues === 0} empty={<EmptyState title="None" />}>
              {(s) => <TallyList label="Quarantined values by code" tallies={tallyByCode(s)} selected={code} onSelect={filter(setCode)} />}
            </QueryView>
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>What you see</CardTitle>
            <CardDescription>As the API answers for your role</CardDescription>
          </CardHeader>
          <CardContent className="space-y-2 text-sm text-muted-foreground">
            <p>Clients {scope}.</p>
            <p>
              {masked && masked.length > 0 ? (
                <>Raw values masked for your role: {masked.map((m) => <Badge key={m} variant="outline" className="mr-1">{m}</Badge>)}</>
              ) : masked ? (
                "Every raw value is shown as received."
              ) : null}
            </p>
          </CardContent>
        </Card>
      </div>
      <Card className="mt-4">
        <CardHeader className="flex flex-row items-center justify-between gap-2">
          <div>
            <CardTitle>Quarantined field values</CardTitle>
            <CardDescription>
              {field ? `field ${field}` : "every field"} · {code ? `code ${code}` : "every code"}
            </CardDescription>
          </div>
          {field || code ? (
            <Button variant="ghost" size="sm" onClick={() => { setField(undefined); setCode(undefined); setOffset(0); }}>
              Show all
            </Button>
          ) : null}
        </CardHeader>
        <CardContent>
          <QueryView
            query={issues}
            rows={6}
            isEmpty={(p) => p.total === 0}
            empty={field || code ? <EmptyState title="No quarantined value matches" /> : noIssues}
          >
            {(p) => {
              const w = pageWindow(p.total, p.limit, p.offset, p.items.length);
              return (
                <>
                  <DataTable caption="Quarantined field values" columns={columns} data={p.items} getRowId={(i, n) => `${p.offset + n}:${i.source_key}:${i.field}`} />
                  <div className="mt-3 flex items-center justify-between gap-2 text-sm">
                    <span className="text-muted-foreground">
                      {formatCount(w.from)}–{formatCount(w.to)} of {formatCount(w.total)} · page {w.page} of {w.pages}
                    </span>
                    <div className="flex gap-2">
                      <Button variant="outline" size="sm" disabled={w.previous === null} onClick={() => w.previous !== null && setOffset(w.previous)}>
                        <ChevronLeft /> Previous
                      </Button>
                      <Button variant="outline" size="sm" disabled={w.next === null} onClick={() => w.next !== null && setOffset(w.next)}>
                        Next <ChevronRight />
                      </Button>
                    </div>
                  </div>
                </>
              );
            }}
          </QueryView>
        </CardContent>
      </Card>
    </section>
  );
}
