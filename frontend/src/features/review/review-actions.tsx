import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Check, GitMerge, Split } from "lucide-react";
import { useState, type ReactElement } from "react";
import { toast } from "sonner";
import { acknowledgeConflictApiConflictsConflictIdAcknowledgePost, decideApiDedupeReviewDecisionsPost } from "@/client/sdk.gen";
import type { ConflictRecord, DedupeReviewItem } from "@/client/types.gen";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Label } from "@/components/ui/label";
import { Textarea } from "@/components/ui/textarea";
import { unwrap } from "@/lib/api";

function ReasonDialog({
  trigger,
  title,
  description,
  confirm,
  onConfirm,
  busy,
}: {
  trigger: ReactElement;
  title: string;
  description: string;
  confirm: string;
  onConfirm: (reason: string) => Promise<unknown>;
  busy: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>{trigger}</DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>{title}</DialogTitle>
          <DialogDescription>{description}</DialogDescription>
        </DialogHeader>
        <div className="space-y-2">
          <Label htmlFor="reason">Reason (kept with the decision)</Label>
          <Textarea id="reason" className="font-sans text-sm" value={reason} onChange={(e) => setReason(e.target.value)} />
        </div>
        <DialogFooter>
          <Button variant="outline" onClick={() => setOpen(false)}>Cancel</Button>
          <Button
            disabled={busy}
            onClick={async () => {
              await onConfirm(reason);
              setOpen(false);
            }}
          >
            {confirm}
          </Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}

export function AcknowledgeButton({ conflict }: { conflict: ConflictRecord }) {
  const queryClient = useQueryClient();
  const ack = useMutation({
    mutationFn: (reason: string) =>
      unwrap(
        acknowledgeConflictApiConflictsConflictIdAcknowledgePost({
          path: { conflict_id: conflict.conflict_id },
          body: { reason: reason || null },
        }),
      ),
    onSuccess: () => {
      toast.success("Acknowledged: the rules service records it shortly");
      void queryClient.invalidateQueries({ queryKey: ["conflicts"] });
    },
  });
  return (
    <ReasonDialog
      trigger={<Button variant="outline" size="sm"><Check /> Acknowledge</Button>}
      title="Acknowledge this conflict"
      description={conflict.detail}
      confirm="Acknowledge"
      busy={ack.isPending}
      onConfirm={(r) => ack.mutateAsync(r)}
    />
  );
}

export function DedupeActions({ item }: { item: DedupeReviewItem }) {
  const queryClient = useQueryClient();
  const decide = useMutation({
    mutationFn: (v: { action: "merge" | "split"; reason: string }) =>
      unwrap(
        decideApiDedupeReviewDecisionsPost({
          body:
            v.action === "merge"
              ? { action: "merge", client_ids: [...item.candidate_client_ids.slice(0, 1), item.client_id], reason: v.reason || null }
              : { action: "split", client_ids: [item.client_id], source_keys: [item.source_key], reason: v.reason || null },
        }),
      ),
    onSuccess: (_d, v) => {
      toast.success(v.action === "merge" ? "Merge requested" : "Split requested");
      void queryClient.invalidateQueries({ queryKey: ["dedupe-review"] });
    },
  });
  return (
    <div className="flex gap-2">
      {item.candidate_client_ids.length > 0 ? (
        <ReasonDialog
          trigger={<Button size="sm"><GitMerge /> Merge</Button>}
          title="Merge into the existing client"
          description={`${item.client_name ?? item.client_id} becomes part of ${item.candidate_client_ids[0]}.`}
          confirm="Merge"
          busy={decide.isPending}
          onConfirm={(reason) => decide.mutateAsync({ action: "merge", reason })}
        />
      ) : null}
      <ReasonDialog
        trigger={<Button variant="outline" size="sm"><Split /> Keep apart</Button>}
        title="Split: these are different organisations"
        description={`${item.source_key} stays its own client.`}
        confirm="Split"
        busy={decide.isPending}
        onConfirm={(reason) => decide.mutateAsync({ action: "split", reason })}
      />
    </div>
  );
}
