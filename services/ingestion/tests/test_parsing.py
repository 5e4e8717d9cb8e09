import io
import tracemalloc

import pytest

from territory.ingestion.parsing import HeaderError, ParseStats, iter_csv, iter_jsonl
from territory.shared.events import RejectReason


def csv_rows(data: bytes, **kw):
    stats = ParseStats()
    return list(iter_csv(io.BytesIO(data), stats=stats, **kw)), stats


def test_rows_carry_data_and_physical_line_numbers():
    data = (
        b'\xef\xbb\xbfSource System,Source-ID,Name\nsf,1,Acme\nsf,2,"Multi\nline Corp"\nsf,3,Last\n'
    )
    rows, stats = csv_rows(data)
    assert stats.columns == ["source_system", "source_id", "name"]
    assert [(r.row_number, r.data["name"]) for r in rows] == [
        (2, "Acme"),
        (3, "Multi\nline Corp"),
        (5, "Last"),
    ]
    assert rows[1].original == b'sf,2,"Multi\nline Corp"'


def test_wrong_column_count_is_malformed_with_original_kept():
    rows, _ = csv_rows(b"source_id,name\n1,a\n2,b,extra\n3\n4,d\n")
    assert [r.reason for r in rows] == [
        None,
        RejectReason.MALFORMED_ROW,
        RejectReason.MALFORMED_ROW,
        None,
    ]
    assert rows[1].original == b"2,b,extra"
    assert rows[1].errors[0].code == "wrong_column_count"
    assert rows[3].row_number == 5


def test_undecodable_row_is_rejected_with_its_bytes_and_others_survive():
    rows, _ = csv_rows(b"source_id,name\n1,Caf\xe9\n2,Fine\n")
    assert rows[0].reason is RejectReason.INVALID_ENCODING
    assert rows[0].original == b"1,Caf\xe9"
    assert rows[1].data == {"source_id": "2", "name": "Fine"}


def test_declared_encoding_is_used():
    rows, _ = csv_rows(b"source_id,name\n1,Caf\xe9\n", encoding="latin-1")
    assert rows[0].data["name"] == "Café"


def test_bad_quoting_does_not_stop_the_file():
    rows, _ = csv_rows(b'source_id,name\n1,"a"b\n2,ok\n')
    assert rows[0].reason is RejectReason.MALFORMED_ROW
    assert rows[0].errors[0].code == "csv_error"
    assert rows[-1].data == {"source_id": "2", "name": "ok"}


def test_unterminated_quote_is_bounded_by_the_record_limit():
    body = b'source_id,name\n1,"never closed\n' + b"x,y\n" * 5000
    rows, _ = csv_rows(body, max_record_bytes=1024)
    assert rows, "the runaway record must be reported, not swallowed"
    assert all(r.reason is not None for r in rows[:1])
    assert sum(len(r.original) for r in rows) < len(body)


def test_over_long_line_is_rejected_and_parsing_continues():
    body = b"source_id,name\n1," + b"z" * 5000 + b"\n2,ok\n"
    rows, _ = csv_rows(body, max_record_bytes=1024)
    assert rows[0].reason in (RejectReason.RECORD_TOO_LARGE, RejectReason.MALFORMED_ROW)
    assert len(rows[0].original) <= 1024
    assert rows[-1].data == {"source_id": "2", "name": "ok"}


def test_blank_lines_are_counted_not_rows():
    rows, stats = csv_rows(b"source_id,name\n\n1,a\n\n\n2,b\n")
    assert len(rows) == 2
    assert stats.blank_lines == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"name,Name\n", "duplicate"), (b"id,na\xffme\n", "not valid")],
)
def test_unreadable_header_is_refused(data, message):
    with pytest.raises(HeaderError, match=message):
        csv_rows(data)


def test_jsonl_outcomes():
    data = b'{"name": "a"}\n\nnot json\n[1,2]\n{"name": "' + b"q" * 2000 + b'"}\n{"name": "b"}\n'
    stats = ParseStats()
    rows = list(iter_jsonl(io.BytesIO(data), stats=stats, max_record_bytes=1024))
    assert [(r.row_number, r.reason) for r in rows] == [
        (1, None),
        (3, RejectReason.INVALID_JSON),
        (4, RejectReason.INVALID_JSON),
        (5, RejectReason.RECORD_TOO_LARGE),
        (6, None),
    ]
    assert stats.blank_lines == 1


class GeneratedCsv(io.RawIOBase):
    """A CSV file of `rows` rows produced on the fly: never materialised in memory."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.i = -1
        self.buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while len(self.buf) < len(b) and self.i < self.rows:
            if self.i < 0:
                self.buf += b"source_system,source_id,name,country,aum_usd\n"
            else:
                self.buf += f"csv,{self.i},Client number {self.i} Ltd,GB,{self.i * 10}\n".encode()
            self.i += 1
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


def test_100k_rows_stream_in_flat_memory():
    stream = io.BufferedReader(GeneratedCsv(100_000), buffer_size=1 << 16)
    tracemalloc.start()
    count = 0
    for row in iter_csv(stream):
        assert row.data is not None
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 100_000
    # The file is ~4 MB; holding it (or the rows) would show up here.
    assert peak < 1_000_000, f"peak {peak} bytes"
