"""The bulk writer's own parameter processing must send what SQLAlchemy would send."""

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite

from territory.loader.upsert import _is_sqlite_datetime, _sqlite_datetimes
from territory.shared.warehouse import schema as s

_SQLALCHEMY = sqlite.DATETIME().bind_processor(sqlite.dialect())
_OFFSETS = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min])


@given(value=st.one_of(st.datetimes(timezones=_OFFSETS), st.dates(), st.none()))
def test_the_sqlite_datetime_fast_path_writes_the_text_sqlalchemy_writes(value):
    assert _SQLALCHEMY is not None
    assert _sqlite_datetimes(_SQLALCHEMY)(value) == _SQLALCHEMY(value)


def test_the_fast_path_is_taken_for_the_warehouses_datetime_columns_only():
    with create_engine("sqlite://").connect() as conn:
        t = s.assignments_fact
        assert _is_sqlite_datetime(conn, t.c.effective_from)
        assert not _is_sqlite_datetime(conn, t.c.client_id)
        assert not _is_sqlite_datetime(conn, t.c.trace)


def test_a_datetime_subclass_takes_sqlalchemys_own_path():
    class Stamp(datetime):
        def isoformat(self, *args: object, **kwargs: object) -> str:
            return "not the storage format"

    value = Stamp(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert _SQLALCHEMY is not None
    assert _sqlite_datetimes(_SQLALCHEMY)(value) == "2026-01-02 03:04:05.000006"
    assert _sqlite_datetimes(_SQLALCHEMY)(date(2026, 1, 2)) == "2026-01-02 00:00:00.000000"
