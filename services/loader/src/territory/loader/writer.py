"""Writes one micro-batch of events to the warehouse in one transaction.

Idempotency never relies on the database refusing a duplicate (Snowflake does not
enforce keys): every table is written by `event_id` or its business key.

- append-only tables (RAW.CLIENTS, ASSIGNMENTS_FACT, DEDUPE_REVIEW, REJECTED_RECORDS,
  RULESET_VERSIONS): insert what is not there yet;
- latest-state tables (CLIENTS_STAGING, CLIENT_DIM, CONFLICTS): keep the newest version
  per key (by version number or time), compared with what the warehouse already holds, so
  a redelivered or out-of-order older event never overwrites a newer one;
- ASSIGNMENTS_FACT is SCD type 2: after inserting, effective_to / is_current are
  recomputed for every client the batch touched, from the order of effective_from, which
  makes the history the same whatever order (or how many times) events arrived.

On SQLite and PostgreSQL the writes are `INSERT … ON CONFLICT`; on Snowflake they are
`MERGE` from a temporary table of the batch.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from territory.loader import rows as r
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
from territory.shared.rulesets import RulesetDimensions
from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import Backend, backend_of

log = logging.getLogger(__name__)

# Bound parameters per IN list: SQLite allows 32,766, PostgreSQL 65,535 per statement.
_CHUNK = 5_000


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# A reviewer's decision closes the open review rows of the clients it names.
REVIEW_STATUS = {"merge": "merged", "split": "split"}


class WarehouseWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend: Backend = backend_of(engine)
        self._statements: dict[
            tuple[str, tuple[str, ...]], tuple[str, dict[str, Callable[[Any], Any]]]
        ] = {}

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

        self.insert_new(conn, s.raw_clients, raw_rows, ["event_id"])
        self._load_staging(conn, received, now)
        self._load_rulesets(conn, rulesets, now)
        touched = self._load_clients(conn, golden, now)
        touched |= self._load_assignments(conn, assignments, now)
        self._refresh_current_assignment(conn, sorted(touched))
        self._load_conflicts(conn, conflicts, now)
        self.insert_new(
            conn, s.rejected_records, [r.rejected_row(e, now=now) for e in rejected], ["event_id"]
        )
        self._apply_dedupe_commands(conn, commands)

    # -- per subject ---------------------------------------------------------------------

    def _load_staging(self, conn: Connection, events: list[ClientReceived], now: datetime) -> None:
        latest: dict[str, r.Row] = {}
        for event in events:
            row = r.staging_row(event, now=now)
            known = latest.get(row["source_key"])
            if known is None or _order(row) >= _order(known):
                latest[row["source_key"]] = row
        if not latest:
            return
        t = s.clients_staging
        existing: dict[str, r.Row] = {}
        for keys in _chunks(sorted(latest)):
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
        self.upsert(conn, t, newer, ["source_key"])

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
        reviews = [
            r.review_row(e, now=now)
            for e in events
            if e.payload.decision == DedupeDecision.POSSIBLE_DUPLICATE
        ]
        self.insert_new(conn, s.dedupe_review, reviews, ["event_id"])
        if not latest:
            return set()
        t = s.client_dim
        versions: dict[str, int] = {}
        for ids in _chunks(sorted(latest)):
            for cid, version in conn.execute(
                select(t.c.client_id, t.c.version).where(t.c.client_id.in_(ids))
            ).tuples():
                versions[cid] = version
        accepted = [
            e
            for cid, e in latest.items()
            if cid not in versions or e.payload.version >= versions[cid]
        ]
        # The current assignment columns belong to ASSIGNMENTS_FACT: never overwritten here.
        keep = {"territory_id", "advisor_email", "tier", "merged_into_client_id"}
        self.upsert(
            conn,
            t,
            [r.client_row(e, now=now) for e in accepted],
            ["client_id"],
            update=[c.name for c in t.c if c.name not in keep and c.name != "client_id"],
        )
        ids = [e.payload.client_id for e in accepted]
        lineage = s.client_source_record
        for chunk in _chunks(ids):
            conn.execute(delete(lineage).where(lineage.c.client_id.in_(chunk)))
        self.insert_new(
            conn,
            lineage,
            [row for e in accepted for row in r.lineage_rows(e)],
            ["client_id", "source_key"],
        )
        for e in accepted:
            if e.payload.merged_client_ids:
                conn.execute(
                    update(t)
                    .where(t.c.client_id.in_(e.payload.merged_client_ids))
                    .values(retired=True, merged_into_client_id=e.payload.client_id)
                )
        return set(ids)

    def _load_assignments(
        self, conn: Connection, events: list[AssignmentChanged], now: datetime
    ) -> set[str]:
        if not events:
            return set()
        af = s.assignments_fact
        self.insert_new(conn, af, [r.assignment_row(e, now=now) for e in events], ["event_id"])
        clients = sorted({e.payload.client_id for e in events})
        for chunk in _chunks(clients):
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
            conn.execute(
                update(af)
                .where(af.c.event_id == nxt.c.event_id)
                .values(
                    effective_to=nxt.c.next_from,
                    is_current=case((nxt.c.next_from.is_(None), True), else_=False),
                )
            )
        return set(clients)

    def _refresh_current_assignment(self, conn: Connection, client_ids: Sequence[str]) -> None:
        """Copy each client's current assignment onto CLIENT_DIM (the dashboard filters)."""
        af, cd = s.assignments_fact, s.client_dim
        for chunk in _chunks(client_ids):
            cur = (
                select(af.c.client_id, af.c.territory_id, af.c.advisor_email, af.c.tier)
                .where(af.c.is_current.is_(True), af.c.client_id.in_(chunk))
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
        for keys in _chunks(sorted(latest)):
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
        self.upsert(conn, t, rows, ["conflict_id"])

    def _load_rulesets(
        self, conn: Connection, events: list[RulesetPublished], now: datetime
    ) -> None:
        if not events:
            return
        t = s.ruleset_versions
        self.insert_new(conn, t, [r.ruleset_row(e, now=now) for e in events], ["version"])
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
        self.upsert(conn, td, r.territory_rows(dims, now=now), ["territory_id"])
        conn.execute(delete(ta))
        self.insert_new(conn, ta, r.territory_advisor_rows(dims), ["territory_id", "advisor_email"])
        conn.execute(update(ad).values(active=False))
        self.upsert(conn, ad, r.advisor_rows(dims, now=now), ["advisor_email"])

    def _apply_dedupe_commands(self, conn: Connection, commands: list[DedupeCommanded]) -> None:
        t = s.dedupe_review
        for command in commands:
            conn.execute(
                update(t)
                .where(t.c.client_id.in_(command.payload.client_ids), t.c.status == "open")
                .values(status=REVIEW_STATUS[command.payload.action])
            )

    # -- generic idempotent writes -------------------------------------------------------

    def insert_new(
        self, conn: Connection, table: Table, rows: list[r.Row], keys: list[str]
    ) -> None:
        """Insert the rows whose key is not in the table yet (and only once per batch)."""
        rows = _unique(rows, keys)
        if not rows:
            return
        if self.backend == "snowflake":
            self._merge(conn, table, rows, keys, update=[])
            return
        dialect_insert = sqlite.insert if self.backend == "sqlite" else postgresql.insert
        self._executemany(
            conn,
            table,
            dialect_insert(table).on_conflict_do_nothing(index_elements=keys),
            rows,
            kind=f"insert_new:{','.join(keys)}",
        )

    def upsert(
        self,
        conn: Connection,
        table: Table,
        rows: list[r.Row],
        keys: list[str],
        *,
        update: list[str] | None = None,
    ) -> None:
        """Insert or replace by key (the caller already dropped rows older than the table's)."""
        rows = _unique(rows, keys)
        if not rows:
            return
        columns = update if update is not None else [c.name for c in table.c if c.name not in keys]
        if self.backend == "snowflake":
            self._merge(conn, table, rows, keys, update=columns)
            return
        dialect_insert = sqlite.insert if self.backend == "sqlite" else postgresql.insert
        stmt = dialect_insert(table)
        self._executemany(
            conn,
            table,
            stmt.on_conflict_do_update(
                index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
            ),
            rows,
            kind=f"upsert:{','.join(keys)}:{','.join(columns)}",
        )

    def _executemany(
        self, conn: Connection, table: Table, stmt: Any, rows: list[r.Row], *, kind: str
    ) -> None:
        """executemany straight to the driver (SQLite, PostgreSQL).

        SQLAlchemy builds the parameters of every row through its compiled statement,
        which costs more than the database's own work for batches of thousands of rows.
        Here the statement is compiled once (named parameters, schema translated) and only
        the columns' bind processors (datetime → text on SQLite, JSON → text, …) run per
        value: the same values SQLAlchemy would send, a third of the time.
        """
        sql, processors = self._compiled(conn, table, stmt, tuple(rows[0]), kind)
        params = [
            {k: (processors[k](v) if k in processors else v) for k, v in row.items()}
            for row in rows
        ]
        conn.exec_driver_sql(sql, params)

    def _compiled(
        self, conn: Connection, table: Table, stmt: Any, columns: tuple[str, ...], kind: str
    ) -> tuple[str, dict[str, Callable[[Any], Any]]]:
        key = (f"{table.name}:{kind}", columns)
        cached = self._statements.get(key)
        if cached is not None:
            return cached
        schema_map = conn.get_execution_options().get("schema_translate_map") or {}
        compiled = stmt.values({c: bindparam(c) for c in columns}).compile(
            dialect=self._named_dialect(conn), schema_translate_map=schema_map
        )
        preparer = conn.dialect.identifier_preparer

        def schema_name(match: re.Match[str]) -> str:
            physical = schema_map.get(match.group(1), match.group(1))
            return f"{preparer.quote_schema(physical)}." if physical else ""

        # Schema placeholders are resolved here (SQLite maps every schema to none).
        sql = re.sub(r"__\[SCHEMA_([^\]]+)\]\.", schema_name, str(compiled))
        processors: dict[str, Callable[[Any], Any]] = {}
        for c in columns:
            proc = table.c[c].type._cached_bind_processor(conn.dialect)
            if proc is not None:
                processors[c] = proc
        self._statements[key] = (sql, processors)
        return sql, processors

    def _named_dialect(self, conn: Connection) -> Any:
        if self.backend == "sqlite":
            # The sqlite3 driver takes `:name` parameters with dicts; SQLAlchemy's default
            # for it is `?`.
            return sqlite.dialect(paramstyle="named")
        return conn.dialect

    def _merge(
        self,
        conn: Connection,
        table: Table,
        rows: list[r.Row],
        keys: list[str],
        *,
        update: list[str],
    ) -> None:
        """Snowflake: load the rows into a transient work table, then one MERGE on the keys.

        (A TEMPORARY table would do, but must live in the session's current schema, which
        a connection to RAW/STAGE/CORE does not have; the work table is dropped at once.)
        """
        tmp = Table(
            f"tmp_{table.name}_{uuid.uuid4().hex[:8]}",
            MetaData(),
            *[Column(c.name, c.type) for c in table.c if c.name in rows[0]],
            schema=s.OPS,
            prefixes=["TRANSIENT"],
        )
        tmp.create(conn)
        try:
            conn.execute(insert(tmp), rows)
            target = _qualified(conn, table)
            source = _qualified(conn, tmp)
            on = " AND ".join(f"t.{_q(conn, k)} = s.{_q(conn, k)}" for k in keys)
            cols = [c.name for c in tmp.c]
            sql = f"MERGE INTO {target} t USING {source} s ON {on}"
            if update:
                sets = ", ".join(f"{_q(conn, c)} = s.{_q(conn, c)}" for c in update)
                sql += f" WHEN MATCHED THEN UPDATE SET {sets}"
            names = ", ".join(_q(conn, c) for c in cols)
            values = ", ".join(f"s.{_q(conn, c)}" for c in cols)
            sql += f" WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
            conn.execute(text(sql))
        finally:
            tmp.drop(conn)


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _qualified(conn: Connection, table: Table) -> str:
    schema_map = conn.get_execution_options().get("schema_translate_map") or {}
    schema = schema_map.get(table.schema, table.schema)
    preparer = conn.dialect.identifier_preparer
    name = preparer.quote(table.name)
    return f"{preparer.quote_schema(schema)}.{name}" if schema else name


def _unique(rows: list[r.Row], keys: list[str]) -> list[r.Row]:
    """The last row per key (a batch may hold one event twice after a redelivery)."""
    by_key: dict[tuple[Any, ...], r.Row] = {}
    for row in rows:
        by_key[tuple(row[k] for k in keys)] = row
    return list(by_key.values())


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything in the warehouse is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _order(row: r.Row) -> tuple[datetime, datetime]:
    updated, occurred = row["updated_at"], _aware(row["occurred_at"])
    return (_aware(updated) if updated else occurred, occurred)
