import type { FieldIssueRecord } from "@/client/types.gen";
import { Badge } from "@/components/ui/badge";
import { rawValue } from "./quarantine-data";

/**
 * A quarantined value as received. It came from an upstream CRM and failed validation, so
 * it is shown only as text (React escapes it), with its spaces kept.
 */
export function RawValue({ issue, masked }: { issue: Pick<FieldIssueRecord, "field" | "raw">; masked: readonly string[] }) {
  const v = rawValue(issue, masked);
  switch (v.kind) {
    case "masked":
      return <Badge variant="outline">masked for your role</Badge>;
    case "blank":
      return <span className="text-xs text-muted-foreground italic">blank</span>;
    case "missing":
      return <span className="text-muted-foreground">—</span>;
    case "value":
      return <code className="rounded bg-muted px-1 py-0.5 font-mono text-xs break-all whitespace-pre-wrap">{v.text}</code>;
  }
}
