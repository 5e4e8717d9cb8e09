import { CheckCircle2, CircleSlash, Scale, UserRoundCheck } from "lucide-react";
import type { AssignmentRecord } from "@/client/types.gen";
import { Badge } from "@/components/ui/badge";

interface Trace {
  ruleset_version?: string;
  level?: string;
  rule_id?: string | null;
  matched_conditions?: string[];
  rejected_candidates?: { territory_id: string; rule_id?: string | null; reason: string }[];
  advisor_selection?: string | null;
  notes?: string[];
}

/** The trace as the rules engine wrote it (DecisionTrace), read defensively: it is JSON. */
export function readTrace(raw: Record<string, unknown>): Trace {
  const list = (v: unknown) => (Array.isArray(v) ? v : []);
  return {
    ruleset_version: typeof raw.ruleset_version === "string" ? raw.ruleset_version : undefined,
    level: typeof raw.level === "string" ? raw.level : undefined,
    rule_id: typeof raw.rule_id === "string" ? raw.rule_id : null,
    matched_conditions: list(raw.matched_conditions).map(String),
    rejected_candidates: list(raw.rejected_candidates)
      .filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null)
      .map((c) => ({
        territory_id: String(c.territory_id ?? "?"),
        rule_id: typeof c.rule_id === "string" ? c.rule_id : null,
        reason: String(c.reason ?? ""),
      })),
    advisor_selection: typeof raw.advisor_selection === "string" ? raw.advisor_selection : null,
    notes: list(raw.notes).map(String),
  };
}

export function DecisionTrace({ assignment }: { assignment: AssignmentRecord }) {
  const trace = readTrace(assignment.trace);
  return (
    <section aria-label="Why here" className="space-y-4" data-testid="why-here">
      <p className="text-sm">{assignment.reason}</p>
      <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
        <div>
          <dt className="text-xs text-muted-foreground">Rule</dt>
          <dd className="font-mono font-medium" data-testid="why-rule">{assignment.rule_id ?? trace.rule_id ?? "—"}</dd>
        </div>
        <div>
          <dt className="text-xs text-muted-foreground">Level</dt>
          <dd><Badge variant="secondary">{assignment.decision_level}</Badge></dd>
        </div>
        <div>
          <dt className="text-xs text-muted-foreground">Ruleset</dt>
          <dd className="font-mono">{assignment.ruleset_version}</dd>
        </div>
        <div>
          <dt className="text-xs text-muted-foreground">Changed by</dt>
          <dd className="truncate">{assignment.changed_by}</dd>
        </div>
      </dl>
      <div>
        <h4 className="mb-1.5 flex items-center gap-1.5 text-sm font-medium"><CheckCircle2 className="size-4 text-emerald-600" aria-hidden /> Conditions that matched</h4>
        {trace.matched_conditions?.length ? (
          <ul className="space-y-1">
            {trace.matched_conditions.map((c, i) => (
              <li key={i} className="rounded-md bg-muted px-3 py-1.5 font-mono text-xs">{c}</li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-muted-foreground">No condition recorded (a default or an override).</p>
        )}
      </div>
      <div>
        <h4 className="mb-1.5 flex items-center gap-1.5 text-sm font-medium"><CircleSlash className="size-4 text-destructive" aria-hidden /> Candidates that lost</h4>
        {trace.rejected_candidates?.length ? (
          <ul className="divide-y rounded-md border text-sm">
            {trace.rejected_candidates.map((c, i) => (
              <li key={i} className="flex flex-wrap items-baseline gap-2 px-3 py-2">
                <span className="font-medium">{c.territory_id}</span>
                {c.rule_id ? <span className="font-mono text-xs text-muted-foreground">{c.rule_id}</span> : null}
                <span className="text-muted-foreground">— {c.reason}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-muted-foreground">No other territory competed for this client.</p>
        )}
      </div>
      {trace.advisor_selection ? (
        <p className="flex items-center gap-1.5 text-sm"><UserRoundCheck className="size-4 text-muted-foreground" aria-hidden /> Advisor: {trace.advisor_selection}</p>
      ) : null}
      {trace.notes?.length ? (
        <div>
          <h4 className="mb-1.5 flex items-center gap-1.5 text-sm font-medium"><Scale className="size-4" aria-hidden /> Notes</h4>
          <ul className="list-disc pl-5 text-sm text-muted-foreground">
            {trace.notes.map((n, i) => <li key={i}>{n}</li>)}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
