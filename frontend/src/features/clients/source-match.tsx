import { Link } from "react-router";
import type { SourceMatch } from "@/client/types.gen";
import { Badge } from "@/components/ui/badge";
import { formatDate, formatPercent } from "@/lib/format";

const DECISION_VARIANT: Record<string, "success" | "warning" | "secondary"> = {
  merged: "success",
  possible_duplicate: "warning",
  new: "secondary",
};

function score(s: number): string {
  return `${s > 0 ? "+" : ""}${Number(s.toFixed(2))}`;
}

/** Why dedupe put this source record in the client: decision, best confidence, field scores, reasons. */
export function SourceMatchEvidence({ match, clientId }: { match: SourceMatch | null | undefined; clientId: string }) {
  if (!match) return <span className="text-xs text-muted-foreground">No match evidence recorded</span>;
  const scores = Object.entries(match.field_scores ?? {});
  const reasons = match.reasons ?? [];
  const candidate = match.candidate_client_id;
  return (
    <div className="min-w-48 space-y-1" data-testid="source-match">
      <div className="flex flex-wrap items-center gap-1.5">
        <Badge variant={DECISION_VARIANT[match.decision] ?? "outline"}>{match.decision.replace(/_/g, " ")}</Badge>
        {match.confidence !== null && match.confidence !== undefined ? (
          <span className="text-xs font-medium tabular-nums" title="Confidence of the best evidence">
            {formatPercent(match.confidence)} confidence
          </span>
        ) : null}
        {candidate && candidate !== clientId ? (
          <span className="text-xs text-muted-foreground">
            vs{" "}
            <Link className="font-mono text-primary hover:underline" to={`/clients/${encodeURIComponent(candidate)}`}>
              {candidate}
            </Link>
          </span>
        ) : null}
      </div>
      {scores.length > 0 ? (
        <div className="flex flex-wrap gap-1" aria-label="Field scores">
          {scores.map(([field, s]) => (
            <Badge key={field} variant={s > 0 ? "success" : s < 0 ? "destructive" : "secondary"} className="font-normal">
              {field} {score(s)}
            </Badge>
          ))}
        </div>
      ) : null}
      {reasons.length > 0 ? (
        <ul className="list-disc space-y-0.5 pl-4 text-xs text-muted-foreground" aria-label="Match reasons">
          {reasons.map((r, i) => (
            <li key={i} className="break-words">{r}</li>
          ))}
        </ul>
      ) : match.decision === "new" ? (
        <p className="text-xs text-muted-foreground">Matched no existing client</p>
      ) : null}
      <p className="text-[11px] text-muted-foreground">decided {formatDate(match.occurred_at)}</p>
    </div>
  );
}
