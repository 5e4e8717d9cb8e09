"""Reviewers' decisions: merge golden clients (survivor first) or split records off one.

A decision is kept as constraints on the clustering (`clustering`), so it holds whatever
records arrive later: a merge keeps its records together (over any automatic objection)
and pins the survivor's id; a split keeps the records split off apart from the ones that
stay, each side together, and pins both ids (the client keeps its id, the records split
off get a deterministic new one).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from territory.dedupe.clustering import Clustering
from territory.dedupe.master import MANUAL, Restored, golden_id
from territory.shared.events import (
    ClientRecord,
    DedupeCommand,
    DedupeDecision,
    GoldenClient,
    MatchEvidence,
)


class Commands(Clustering):
    def restore(
        self,
        last_events: Iterable[GoldenClient],
        records: Mapping[str, list[ClientRecord]],
        *,
        emitted_at: Mapping[str, datetime] | None = None,
        listed: Collection[str] = (),
    ) -> Restored:
        """The master from the topics (`Master.restore`), then the constraints the events
        carry: a reviewer's decision is in its clients' evidence (`manual`, sticky), and a
        golden id that is not its anchor's (a decision, or a client emitted before ids
        were chosen by anchor) is pinned, so restarting changes no id."""
        events = list(last_events)
        restored = super().restore(events, records, emitted_at=emitted_at, listed=listed)
        splits: list[tuple[str, str]] = []
        for event in events:
            golden = self.goldens[event.client_id]
            if event.retired or not golden.members:
                continue
            golden.manual = tuple(e for e in event.evidence if e.field_scores == {MANUAL: 1.0})
            for evidence in golden.manual:
                self._keep_together(sorted(golden.members))
                if evidence.reasons and evidence.reasons[0].startswith("split "):
                    splits.append((golden.client_id, evidence.candidate_client_id))
            if golden.client_id != golden_id(self.anchor(golden.members)):
                self.pins[self.anchor(golden.members)] = golden.client_id
        for one, other in splits:
            there = self.goldens.get(other)
            if there is not None and there.members:
                self._keep_apart(self.goldens[one].members, there.members)
        return restored

    def on_command(self, command: DedupeCommand) -> list[str]:
        """Apply a reviewer's merge or split; returns the golden ids it changed."""
        if command.action == "merge":
            return self._merge(command.client_ids, command)
        return self._split(command.client_ids[0], command.source_keys, command)

    def _keep_together(self, keys: list[str]) -> None:
        ordered = sorted(keys)
        for a in ordered:
            for b in ordered:
                self.apart.discard(frozenset((a, b)))
        for a, b in itertools.pairwise(ordered):
            self.together[a].add(b)
            self.together[b].add(a)

    def _keep_apart(self, left: set[str], right: set[str]) -> None:
        for a in left:
            linked = self.together.get(a)
            if linked is not None:
                linked -= right
            for b in right:
                self.together.get(b, set()).discard(a)
                self.apart.add(frozenset((a, b)))

    def _pin(self, keys: set[str], client_id: str) -> None:
        for key in keys:
            self.pins.pop(key, None)
        self.pins[self.anchor(keys)] = client_id

    def _merge(self, client_ids: list[str], command: DedupeCommand) -> list[str]:
        survivor_id = self._live(client_ids[0])
        if survivor_id is None:
            return []
        survivor = self.goldens[survivor_id]
        absorbed: list[str] = []
        for other_id in client_ids[1:]:
            live = self._live(other_id)
            if live is None or live == survivor_id or live in absorbed:
                continue
            if not self.goldens[live].members:
                continue
            absorbed.append(live)
        if not absorbed or not survivor.members:
            return []
        keys = set(survivor.members)
        for cid in absorbed:
            keys |= self.goldens[cid].members
        self._keep_together(sorted(keys))
        self._pin(keys, survivor_id)
        self._recluster(keys, None)
        for cid in absorbed:
            other = self.goldens[cid]
            other.evidence = [self._manual_evidence(survivor_id, command, "merged into")]
            self._touch(cid)
        survivor.manual = [
            *survivor.manual,
            *(self._manual_evidence(cid, command, "merged") for cid in absorbed),
        ][-self.settings.evidence_limit :]
        self._touch(survivor_id)
        return [survivor_id, *absorbed]

    def _split(self, client_id: str, source_keys: list[str], command: DedupeCommand) -> list[str]:
        golden = self.goldens.get(client_id)
        if golden is None or golden.retired_into is not None:
            return []
        moving = sorted(k for k in set(source_keys) if k in golden.members)
        if not moving or len(moving) == len(golden.members):
            return []  # nothing to split, or nothing would stay
        staying = golden.members - set(moving)
        new_id = golden_id(f"split:{command.command_id}:{moving[0]}")
        self._keep_together(moving)
        self._keep_together(sorted(staying))
        self._keep_apart(set(moving), staying)
        self._pin(staying, client_id)
        self._pin(set(moving), new_id)
        self._recluster(golden.members, None)
        new = self.goldens[new_id]
        new.decision = DedupeDecision.NEW
        new.manual = [self._manual_evidence(client_id, command, "split off")]
        golden.manual = [self._manual_evidence(new_id, command, "split into")]
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
            field_scores={MANUAL: 1.0},
            reasons=[reason],
        )
