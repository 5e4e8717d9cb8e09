"""Reviewers' decisions: merge golden clients (survivor first) or split records off one."""

from __future__ import annotations

from territory.dedupe.master import Golden, Master, golden_id
from territory.shared.events import (
    DedupeCommand,
    DedupeDecision,
    MatchEvidence,
)


class Commands(Master):
    def on_command(self, command: DedupeCommand) -> list[str]:
        """Apply a reviewer's merge or split; returns the golden ids it changed."""
        if command.action == "merge":
            return self._merge(command.client_ids, command)
        return self._split(command.client_ids[0], command.source_keys, command)

    def _merge(self, client_ids: list[str], command: DedupeCommand) -> list[str]:
        survivor_id = self._live(client_ids[0])
        if survivor_id is None:
            return []
        survivor = self.goldens[survivor_id]
        changed = [survivor_id]
        for other_id in client_ids[1:]:
            live = self._live(other_id)
            if live is None or live == survivor_id:
                continue
            other = self.goldens[live]
            for key in other.members:
                self.records[key].client_id = survivor_id
            survivor.members |= other.members
            other.members = set()
            other.retired_into = survivor_id
            other.decision = DedupeDecision.MERGED
            other.evidence = [self._manual_evidence(survivor_id, command, "merged into")]
            for absorbed in [live, *other.merged_client_ids]:
                if absorbed not in survivor.merged_client_ids:
                    survivor.merged_client_ids.append(absorbed)
            other.merged_client_ids = []
            self._touch(live)
            changed.append(live)
        if len(changed) > 1:
            survivor.decision = DedupeDecision.MERGED
            survivor.evidence = [
                self._manual_evidence(cid, command, "merged") for cid in changed[1:]
            ]
            self._touch(survivor_id)
        return changed if len(changed) > 1 else []

    def _split(self, client_id: str, source_keys: list[str], command: DedupeCommand) -> list[str]:
        golden = self.goldens.get(client_id)
        if golden is None or golden.retired_into is not None:
            return []
        moving = sorted(k for k in set(source_keys) if k in golden.members)
        if not moving or len(moving) == len(golden.members):
            return []  # nothing to split, or nothing would stay
        new_id = golden_id(f"split:{command.command_id}:{moving[0]}")
        new = self.goldens.setdefault(new_id, Golden(client_id=new_id))
        for key in moving:
            golden.members.discard(key)
            new.members.add(key)
            self.records[key].client_id = new_id
        new.decision = DedupeDecision.NEW
        new.evidence = [self._manual_evidence(client_id, command, "split off")]
        golden.evidence = [self._manual_evidence(new_id, command, "split into")]
        self._touch(client_id)
        self._touch(new_id)
        return [client_id, new_id]

    @staticmethod
    def _manual_evidence(client_id: str, command: DedupeCommand, what: str) -> MatchEvidence:
        reason = f"{what} {client_id} by {command.decided_by} (command {command.command_id})"
        if command.reason:
            reason += f": {command.reason}"
        return MatchEvidence(
            candidate_client_id=client_id,
            confidence=1.0,
            field_scores={"manual": 1.0},
            reasons=[reason],
        )
