"""Writes one micro-batch of events to the warehouse in one transaction.

Idempotency never relies on the database refusing a duplicate (Snowflake does not
enforce keys): every table is written by `event_id` or its business key.

- append-only tables (RAW.CLIENTS, ASSIGNMENTS_FACT, DEDUPE_REVIEW, REJECTED_RECORDS,
  RULESET_VERSIONS): insert what is not there yet;
- latest-state tables (CLIENTS_STAGING, CLIENT_DIM, CLIENT_SOURCE_MATCH, CONFLICTS): keep
  the newest version per key (by version number or time), compared with what the warehouse
  already holds, so a redelivered or out-of-order older event never overwrites a newer one;
- ASSIGNMENTS_FACT is SCD type 2: after inserting, effective_to / is_current are
  recomputed for every client the batch touched, from the order of effective_from, which
  makes the history the same whatever order (or how many times) events arrived.

This module is the per-topic load policy; the portable bulk writes it uses (`INSERT … ON
CONFLICT` on SQLite and PostgreSQL, `MERGE` from a work table on Snowflake) are
`territory.loader.upsert`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)

from territory.loader import rows as r
from territory.loader.upsert import BulkUpsert, chunks
from territory.shared.events import (
    AssignmentChanged,
    ClientDeduplicated,
    ClientReceived,
    ClientRejected,
    ConflictDetected,
    DedupeCommanded,
    DedupeDecision,
    RulesetPublished,
)
from territory.shared.log import RateLimitedLog
from territory.shared.rulesets import RulesetDimensions
from territory.shared.warehouse import schema as s

log = logging.getLogger(__name__)
limited = RateLimitedLog(log, interval=10.0)

STALE = Counter(
    "territory_loader_stale_skipped_total",
    "Events older than the version the warehouse holds for their key, not applied",
    ["table"],
)


def _stale(table: str, skipped: Sequence[str]) -> None:
    if not skipped:
        return
    STALE.labels(table).inc(len(skipped))
    limited.warning(
        "stale versions skipped",
        key=f"stale:{table}",
        table=table,
        count=len(skipped),
        keys=list(skipped[:5]),
    )


# A reviewer's decision closes the open review rows of the clients it names.
REVIEW_STATUS = {"merge": "merged", "split": "split"}


class WarehouseWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.bulk = BulkUpsert(engine)

    # -- entry point ---------------------------------------------------------------------

    def write(
        self,
        items: Sequence[r.Loaded],
        *,
        raw_json: Sequence[str],
        batch_id: str,
        started_at: datetime,
        attempts: int = 1,
        dead_letters: int = 0,
        load_raw: Callable[[Connection], object] | None = None,
    ) -> dict[str, int]:
        """Write `items` (and a LOAD_BATCHES row) atomically; returns events per topic.

        `raw_json[i]` is the event exactly as received. `load_raw`: RAW.CLIENTS is loaded
        by this callback instead (the S3 / COPY INTO path), in the same transaction.
        """
        now = datetime.now(UTC)
        by_topic: dict[str, int] = {}
        for item in items:
            by_topic[item.event.event_type] = by_topic.get(item.event.event_type, 0) + 1
        with self.engine.begin() as conn:
            if load_raw is not None:
                load_raw(conn)
            self._write(
                conn, items, raw_json, batch_id=batch_id, now=now, raw_loaded=load_raw is not None
            )
            conn.execute(
                insert(s.load_batches).values(
                    batch_id=batch_id,
                    started_at=started_at,
                    finished_at=datetime.now(UTC),
                    events=len(items),
                    events_by_topic=by_topic,
                    dead_letters=dead_letters,
                    attempts=attempts,
                )
            )
        return by_topic

    def _write(
        self,
        conn: Connection,
        items: Sequence[r.Loaded],
        raw_json: Sequence[str],
        *,
        batch_id: str,
        now: datetime,
        raw_loaded: bool,
    ) -> None:
        received: list[ClientReceived] = []
        raw_rows: list[r.Row] = []
        golden: list[ClientDeduplicated] = []
        assignments: list[AssignmentChanged] = []
        conflicts: list[ConflictDetected] = []
        rejected: list[ClientRejected] = []
        rulesets: list[RulesetPublished] = []
        commands: list[DedupeCommanded] = []
        for item, raw in zip(items, raw_json, strict=True):
            event = item.event
            if isinstance(event, ClientReceived):
                received.append(event)
                if not raw_loaded:
                    raw_rows.append(r.raw_client_row(item, raw=raw, batch_id=batch_id, now=now))
            elif isinstance(event, ClientDeduplicated):
                golden.append(event)
            elif isinstance(event, AssignmentChanged):
                assignments.append(event)
            elif isinstance(event, ConflictDetected):
                conflicts.append(event)
            elif isinstance(event, ClientRejected):
                rejected.append(event)
            elif isinstance(event, RulesetPublished):
                rulesets.append(event)
            elif isinstance(event, DedupeCommanded):
                commands.append(event)

        self.bulk.insert_new(conn, s.raw_clients, raw_rows, ["event_id"])
        self._load_staging(conn, received, now)
        self._load_rulesets(conn, rulesets, now)
        touched = self._load_clients(conn, golden, now)
        self._load_matches(conn, golden, now)
        touched |= self._load_assignments(conn, assignments, now)
        self._refresh_current_assignment(conn, sorted(touched))
        self._load_conflicts(conn, conflicts, now)
        self.bulk.insert_new(
            conn, s.rejected_records, [r.rejected_row(e, now=now) for e in rejected], ["event_id"]
        )
        self._apply_dedupe_commands(conn, commands)

    # -- identity ------------------------------------------------------------------------

    def reused_event_ids(self, items: Sequence[r.Loaded]) -> list[int]:
        """Indexes of the `client.received` events whose event_id RAW.CLIENTS (or an
        earlier event of the same batch) already holds for a *different* record.

        The same event again (redelivery, replay) is not reused: its payload is the same.
        A reused id for another record is refused as a whole (`duplicate_event_id`), so
        it reaches no layer: never STAGE and CORE without its RAW row."""
        first: dict[str, ClientReceived] = {}
        candidates: list[tuple[int, ClientReceived]] = []
        for i, item in enumerate(items):
            if isinstance(item.event, ClientReceived):
                candidates.append((i, item.event))
        if not candidates:
            return []
        t = s.raw_clients
        ids = sorted({str(e.event_id) for _, e in candidates})
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                for event_id, payload in conn.execute(
                    select(t.c.event_id, t.c.payload).where(t.c.event_id.in_(chunk))
                ).tuples():
                    try:
                        first[event_id] = ClientReceived.model_validate_json(payload)
                    except ValidationError:
                        continue  # not comparable: the content check below refuses
        reused = []
        for i, event in candidates:
            key = str(event.event_id)
            held = first.get(key)
            if held is None:
                first[key] = event
            elif held.payload != event.payload:
                reused.append(i)
        return reused

    # -- per subject ---------------------------------------------------------------------

    def _load_staging(self, conn: Connection, events: list[ClientReceived], now: datetime) -> None:
        latest: dict[str, r.Row] = {}
        events_by_key: dict[str, ClientReceived] = {}
        for event in events:
            row = r.staging_row(event, now=now)
            known = latest.get(row["source_key"])
            if known is None or _order(row) >= _order(known):
                latest[row["source_key"]] = row
                events_by_key[row["source_key"]] = event
        if not latest:
            return
        t = s.clients_staging
        existing: dict[str, r.Row] = {}
        for keys in chunks(sorted(latest)):
            for found in conn.execute(
                select(t.c.source_key, t.c.updated_at, t.c.occurred_at).where(
                    t.c.source_key.in_(keys)
                )
            ).mappings():
                existing[found["source_key"]] = dict(found)
        newer = [
            row
            for key, row in latest.items()
            if key not in existing or _order(row) >= _order(existing[key])
        ]
        _stale(t.name, sorted(set(latest) - {row["source_key"] for row in newer}))
        self.bulk.upsert(conn, t, newer, ["source_key"])
        self._load_field_issues(conn, [events_by_key[row["source_key"]] for row in newer], now)

    def _load_field_issues(
        self, conn: Connection, events: list[ClientReceived], now: datetime
    ) -> None:
        """The field issues of each source record's latest version replace its earlier
        ones (a corrected value clears its issue); the golden client comes from lineage."""
        fi, lineage = s.client_field_issues, s.client_source_record
        keys = sorted(e.payload.source_key for e in events)
        owner: dict[str, str] = {}
        for chunk in chunks(keys):
            conn.execute(delete(fi).where(fi.c.source_key.in_(chunk)))
            for key, cid in conn.execute(
                select(lineage.c.source_key, lineage.c.client_id).where(
                    lineage.c.source_key.in_(chunk)
                )
            ).tuples():
                owner[key] = max(cid, owner.get(key, cid))
        rows = [
            row
            for e in events
            if e.payload.field_issues
            for row in r.field_issue_rows(e, client_id=owner.get(e.payload.source_key), now=now)
        ]
        self.bulk.insert_new(conn, fi, rows, ["source_key", "issue_no"])

    def _link_field_issues(self, conn: Connection, lineage_rows: list[r.Row]) -> None:
        """Point each source record's field issues at its (new) golden client."""
        fi = s.client_field_issues
        owner: dict[str, str] = {}
        for row in lineage_rows:
            owner[row["source_key"]] = row["client_id"]
        by_client: dict[str, list[str]] = {}
        for key, cid in owner.items():
            by_client.setdefault(cid, []).append(key)
        # Only source keys that have issues cost an UPDATE.
        with_issues: set[str] = set()
        for chunk in chunks(sorted(owner)):
            with_issues.update(
                conn.execute(
                    select(fi.c.source_key).where(fi.c.source_key.in_(chunk)).distinct()
                ).scalars()
            )
        # One statement, a parameter set per source key (a statement per client was a
        # round of SQLAlchemy compilation each, most of the loader's time in it).
        moves = [
            {"b_key": key, "b_client": cid}
            for cid, keys in sorted(by_client.items())
            for key in keys
            if key in with_issues
        ]
        if moves:
            conn.execute(
                update(fi)
                .where(fi.c.source_key == bindparam("b_key"))
                .values(client_id=bindparam("b_client")),
                moves,
            )

    def _load_clients(
        self, conn: Connection, events: list[ClientDeduplicated], now: datetime
    ) -> set[str]:
        latest: dict[str, ClientDeduplicated] = {}
        for event in events:
            known = latest.get(event.payload.client_id)
            if known is None or (event.payload.version, event.occurred_at) >= (
                known.payload.version,
                known.occurred_at,
            ):
                latest[event.payload.client_id] = event
        if not latest:
            return set()
        t = s.client_dim
        versions: dict[str, int] = {}
        for ids in chunks(sorted(latest)):
            for cid, version in conn.execute(
                select(t.c.client_id, t.c.version).where(t.c.client_id.in_(ids))
            ).tuples():
                versions[cid] = version
        accepted = [
            e
            for cid, e in latest.items()
            if cid not in versions or e.payload.version >= versions[cid]
        ]
        _stale(t.name, sorted(set(latest) - {e.payload.client_id for e in accepted}))
        # Review items come from the versions applied: an older version redelivered late
        # must not reopen an item its client's newer version settled.
        self._load_reviews(
            conn,
            [
                r.review_row(e, now=now)
                for e in accepted
                if e.payload.decision == DedupeDecision.POSSIBLE_DUPLICATE and not e.payload.retired
            ],
        )
        # The current assignment columns belong to ASSIGNMENTS_FACT: never overwritten here.
        keep = {"territory_id", "advisor_email", "tier"}
        self.bulk.upsert(
            conn,
            t,
            [r.client_row(e, now=now) for e in accepted],
            ["client_id"],
            update=[c.name for c in t.c if c.name not in keep and c.name != "client_id"],
        )
        ids = [e.payload.client_id for e in accepted]
        lineage = s.client_source_record
        for chunk in chunks(ids):
            conn.execute(delete(lineage).where(lineage.c.client_id.in_(chunk)))
        linked = [row for e in accepted if not e.payload.retired for row in r.lineage_rows(e)]
        self.bulk.insert_new(
            conn,
            lineage,
            [row for e in accepted for row in r.lineage_rows(e)],
            ["client_id", "source_key"],
        )
        self._link_field_issues(conn, linked)
        self._close_settled_reviews(conn, accepted)
        # Retirement is each client's own event (`retired=True`, versioned like the rest):
        # a survivor's `merged_client_ids` only fills in where that retired client's event
        # named no survivor. It never retires a client itself: dedupe may bring a merged
        # id back (an update removed the link) and the survivor's older event would bury it.
        # (One statement, a parameter set per merged id, applied in the events' order.)
        merges = [
            {"b_merged": merged, "b_survivor": e.payload.client_id}
            for e in accepted
            for merged in e.payload.merged_client_ids
        ]
        if merges:
            conn.execute(
                update(t)
                .where(
                    t.c.client_id == bindparam("b_merged"),
                    t.c.retired.is_(True),
                    t.c.merged_into_client_id.is_(None),
                )
                .values(merged_into_client_id=bindparam("b_survivor")),
                merges,
            )
        return set(ids)

    def _load_matches(
        self, conn: Connection, events: list[ClientDeduplicated], now: datetime
    ) -> None:
        """CLIENT_SOURCE_MATCH: per (client, source key), the newest evidence of why that
        source record sits in that client (each event's `matches`; the trigger's decision on
        an event from before them).

        Every event of the batch counts, not only each client's newest: an older event may
        explain a record a newer one leaves out (a client bigger than `match_limit`).
        A pair keeps its highest (version, occurred_at); a replay writes the same row again.
        Rows follow the client's lineage as `_load_clients` left it: a source key no longer
        linked to the client (moved to another golden client, split off) loses its row, and
        a late event cannot bring one back."""
        newest: dict[tuple[str, str], r.Row] = {}
        for event in events:
            for row in r.match_rows(event, now=now):
                pair = (row["client_id"], row["source_key"])
                known = newest.get(pair)
                if known is None or _version(row) >= _version(known):
                    newest[pair] = row
        if not newest:
            return
        t, lineage = s.client_source_match, s.client_source_record
        stored: dict[tuple[str, str], r.Row] = {}
        linked: set[tuple[str, str]] = set()
        clients = sorted({cid for cid, _ in newest})
        for chunk in chunks(clients, 500):
            for found in conn.execute(
                select(t.c.client_id, t.c.source_key, t.c.version, t.c.occurred_at).where(
                    t.c.client_id.in_(chunk)
                )
            ).mappings():
                stored[(found["client_id"], found["source_key"])] = dict(found)
            linked.update(
                conn.execute(
                    select(lineage.c.client_id, lineage.c.source_key).where(
                        lineage.c.client_id.in_(chunk)
                    )
                ).tuples()
            )
        rows, stale = [], []
        for pair, row in sorted(newest.items()):
            if pair not in linked:
                continue
            if pair in stored and _version(row) < _version(stored[pair]):
                stale.append(":".join(pair))
                continue
            rows.append(row)
        _stale(t.name, stale)
        self.bulk.upsert(conn, t, rows, ["client_id", "source_key"])
        unlinked = [{"b_client": cid, "b_key": key} for cid, key in sorted(set(stored) - linked)]
        if unlinked:
            conn.execute(
                delete(t).where(
                    t.c.client_id == bindparam("b_client"), t.c.source_key == bindparam("b_key")
                ),
                unlinked,
            )

    def _load_assignments(
        self, conn: Connection, events: list[AssignmentChanged], now: datetime
    ) -> set[str]:
        if not events:
            return set()
        af = s.assignments_fact
        self.bulk.insert_new(conn, af, [r.assignment_row(e, now=now) for e in events], ["event_id"])
        clients = sorted({e.payload.client_id for e in events})
        for chunk in chunks(clients):
            nxt = (
                select(
                    af.c.event_id,
                    func.lead(af.c.effective_from)
                    .over(
                        partition_by=af.c.client_id, order_by=(af.c.effective_from, af.c.event_id)
                    )
                    .label("next_from"),
                )
                .where(af.c.client_id.in_(chunk))
                .subquery()
            )
            current = case((nxt.c.next_from.is_(None), True), else_=False)
            conn.execute(
                update(af)
                .where(
                    af.c.event_id == nxt.c.event_id,
                    # Only the rows whose interval changes: a new assignment is inserted
                    # current, so usually just the one it ends is rewritten (writing every
                    # row of the touched clients cost the replay a rewrite of each, and its
                    # indexes, per move).
                    af.c.effective_to.is_distinct_from(nxt.c.next_from)
                    | af.c.is_current.is_distinct_from(current),
                )
                .values(effective_to=nxt.c.next_from, is_current=current)
            )
        return set(clients)

    def _refresh_current_assignment(self, conn: Connection, client_ids: Sequence[str]) -> None:
        """Copy each client's current assignment onto CLIENT_DIM (the dashboard filters)."""
        af, cd = s.assignments_fact, s.client_dim
        for chunk in chunks(client_ids):
            # Current = the open interval (`effective_to` NULL, set with `is_current` by
            # `_load_assignments`). Not `is_current`: SQLite's planner took its index and
            # walked every current row of the table for each chunk (a 1M-client
            # reassignment spent most of its time there); this keeps it on client_id.
            cur = (
                select(af.c.client_id, af.c.territory_id, af.c.advisor_email, af.c.tier)
                .where(af.c.client_id.in_(chunk), af.c.effective_to.is_(None))
                .subquery()
            )
            conn.execute(
                update(cd)
                .where(cd.c.client_id == cur.c.client_id)
                .values(
                    territory_id=cur.c.territory_id,
                    advisor_email=cur.c.advisor_email,
                    tier=cur.c.tier,
                )
            )

    def _load_conflicts(
        self, conn: Connection, events: list[ConflictDetected], now: datetime
    ) -> None:
        latest: dict[str, r.Row] = {}
        first: dict[str, datetime] = {}
        for event in events:
            row = r.conflict_row(event, now=now)
            key = row["conflict_id"]
            first[key] = min(first.get(key, row["first_seen_at"]), row["first_seen_at"])
            if key not in latest or row["last_seen_at"] >= latest[key]["last_seen_at"]:
                latest[key] = row
        if not latest:
            return
        t = s.conflicts
        existing: dict[str, tuple[datetime, datetime]] = {}
        for keys in chunks(sorted(latest)):
            for cid, first_seen, last_seen in conn.execute(
                select(t.c.conflict_id, t.c.first_seen_at, t.c.last_seen_at).where(
                    t.c.conflict_id.in_(keys)
                )
            ).tuples():
                existing[cid] = (_aware(first_seen), _aware(last_seen))
        rows = []
        for key, row in latest.items():
            if key in existing:
                first_seen, last_seen = existing[key]
                if row["last_seen_at"] < last_seen:
                    continue
                row["first_seen_at"] = min(first_seen, first[key])
            else:
                row["first_seen_at"] = first[key]
            rows.append(row)
        self.bulk.upsert(conn, t, rows, ["conflict_id"])

    def _load_rulesets(
        self, conn: Connection, events: list[RulesetPublished], now: datetime
    ) -> None:
        if not events:
            return
        t = s.ruleset_versions
        self.bulk.insert_new(conn, t, [r.ruleset_row(e, now=now) for e in events], ["version"])
        # The dimensions follow the latest published ruleset, whatever order they came in.
        version, document = conn.execute(
            select(t.c.version, t.c.document)
            .order_by(t.c.published_at.desc(), t.c.version.desc())
            .limit(1)
        ).one()
        try:
            dims = RulesetDimensions.model_validate({**document, "version": version})
        except ValidationError as exc:
            # The rules service refuses such a ruleset too (same models): the version is
            # kept for the audit trail, the dimensions stay those of the last valid one.
            log.warning("ruleset %s has invalid territories or advisors: %s", version, exc)
            return
        td, ta, ad = s.territory_dim, s.territory_advisor, s.advisor_dim
        conn.execute(update(td).values(active=False))
        self.bulk.upsert(conn, td, r.territory_rows(dims, now=now), ["territory_id"])
        conn.execute(delete(ta))
        self.bulk.insert_new(
            conn, ta, r.territory_advisor_rows(dims), ["territory_id", "advisor_email"]
        )
        conn.execute(update(ad).values(active=False))
        self.bulk.upsert(conn, ad, r.advisor_rows(dims, now=now), ["advisor_email"])

    def _load_reviews(self, conn: Connection, reviews: list[r.Row]) -> None:
        """One open review item per (client, source key): dedupe emits a possible
        duplicate again each time the golden client is re-rendered (a new version, a parent
        resolved), and each such event used to become one more open item for the same
        pair. The newest event replaces the open item; an older one, redelivered late,
        changes nothing."""
        if not reviews:
            return
        newest: dict[tuple[str, str], r.Row] = {}
        for row in reviews:
            pair = (row["client_id"], row["source_key"])
            known = newest.get(pair)
            if known is None or _aware(row["occurred_at"]) >= _aware(known["occurred_at"]):
                newest[pair] = row
        t = s.dedupe_review
        superseded: list[str] = []
        for chunk in chunks(sorted({c for c, _ in newest}), 500):
            for open_item in _open_reviews(conn, chunk):
                pair = (open_item.client_id, open_item.source_key)
                candidate = newest.get(pair)
                if candidate is None or open_item.event_id == candidate["event_id"]:
                    continue
                if _aware(open_item.occurred_at) <= _aware(candidate["occurred_at"]):
                    superseded.append(open_item.event_id)
                else:
                    del newest[pair]  # stale: the open item is newer
        for chunk in chunks(superseded, 500):
            conn.execute(delete(t).where(t.c.event_id.in_(chunk)))
        self.bulk.insert_new(conn, t, list(newest.values()), ["event_id"])

    def _close_settled_reviews(self, conn: Connection, accepted: list[ClientDeduplicated]) -> None:
        """A client's newest version decides its open review items: retired, or no longer
        a possible duplicate, nothing is left to review; still one, only the item of its
        current trigger (source key) stays. Dedupe re-decides clients as records arrive
        (a bridge merges two, an update splits them), so an item opened earlier is
        removed here rather than left open on a client that is gone or settled."""
        t = s.dedupe_review
        newest = {e.payload.client_id: e for e in accepted}
        closed: list[str] = []
        for chunk in chunks(sorted(newest), 500):
            for item in _open_reviews(conn, chunk):
                e = newest[item.client_id]
                golden = e.payload
                if _aware(item.occurred_at) > _aware(e.occurred_at):
                    continue  # opened by a newer event than this one
                settled = golden.retired or golden.decision != DedupeDecision.POSSIBLE_DUPLICATE
                if settled or item.source_key != golden.trigger.source_key:
                    closed.append(item.event_id)
        for chunk in chunks(closed, 500):
            conn.execute(delete(t).where(t.c.event_id.in_(chunk)))

    def _apply_dedupe_commands(self, conn: Connection, commands: list[DedupeCommanded]) -> None:
        t = s.dedupe_review
        for command in commands:
            conn.execute(
                update(t)
                .where(t.c.client_id.in_(command.payload.client_ids), t.c.status == "open")
                .values(status=REVIEW_STATUS[command.payload.action])
            )


def _open_reviews(conn: Connection, client_ids: Sequence[str]) -> list[Row[Any]]:
    """The open review items of these clients. Selected by client and filtered on status
    here: with `status = 'open'` in SQL, SQLite's planner took the status index and walked
    every open item of the queue for each chunk of clients."""
    t = s.dedupe_review
    stmt = select(t.c.event_id, t.c.client_id, t.c.source_key, t.c.occurred_at, t.c.status)
    return [
        row
        for row in conn.execute(stmt.where(t.c.client_id.in_(client_ids)))
        if row.status == "open"
    ]


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything in the warehouse is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _version(row: r.Row) -> tuple[int, datetime]:
    return (row["version"], _aware(row["occurred_at"]))


def _order(row: r.Row) -> tuple[datetime, datetime]:
    updated, occurred = row["updated_at"], _aware(row["occurred_at"])
    return (_aware(updated) if updated else occurred, occurred)
