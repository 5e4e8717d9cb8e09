"""The benchmark's profile tables (bench/spy.py): py-spy's raw samples summed by where the
code lives and by project function. The lines below are in the format py-spy 0.4 writes
with `--full-filenames --format raw` (taken from a recording of the dedupe service, paths
shortened)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import spy

VENV = "/work/.venv/lib/python3.11/site-packages"
LIB = "/usr/lib/python3.11"
SRC = "/work/services/dedupe/src/territory/dedupe"
LOOP = (
    f"_run_module_as_main (<frozen runpy>:198);main ({SRC}/service.py:385);"
    f"Runner.run ({LIB}/asyncio/runners.py:118);"
    f"DedupeService.on_client_received ({SRC}/service.py:165)"
)
RAW = [
    # 5 samples in the index lookup under `_link`, 3 of them in rapidfuzz
    f"{LOOP};DedupeEngine._place ({SRC}/engine.py:161);Clustering._link ({SRC}/clustering.py:48);"
    f"CandidateIndex.candidates ({SRC}/index.py:257);cdist ({VENV}/rapidfuzz/process_cpp.py:76) 3",
    f"{LOOP};DedupeEngine._place ({SRC}/engine.py:161);Clustering._link ({SRC}/clustering.py:48);"
    f"CandidateIndex._post ({SRC}/index.py:297) 2",
    # recursion: `_link` twice on one stack counts once for `_link`
    f"{LOOP};Clustering._link ({SRC}/clustering.py:48);Clustering._component ({SRC}/clustering.py:96);"
    f"Clustering._link ({SRC}/clustering.py:48);BaseModel.model_dump_json ({VENV}/pydantic/main.py:587) 1",
    # pydantic-core is charged to pydantic; an unnamed frame goes to its caller
    f"{LOOP};BaseModel.model_validate_json ({VENV}/pydantic_core/__init__.py:10) 1",
    f"{LOOP};loads ({LIB}/json/__init__.py:346); (2) 2",
    f"{LOOP};Runner.run ({LIB}/asyncio/runners.py:118) 1",
    "",
    "not a sample line",
]


def test_self_time_is_grouped_by_where_the_code_lives() -> None:
    profile = spy.Profile.parse(RAW)
    assert profile.samples == 10
    assert dict(profile.by_code) == {
        "rapidfuzz": 3,
        "territory.dedupe.index": 2,
        "pydantic": 2,
        "stdlib:json": 2,
        "stdlib:asyncio": 1,
    }
    assert profile.code_shares(2) == [("rapidfuzz", 0.3), ("territory.dedupe.index", 0.2)]


def test_a_project_function_counts_each_sample_once_and_pass_throughs_are_left_out() -> None:
    profile = spy.Profile.parse(RAW)
    assert profile.functions["Clustering._link (territory.dedupe.clustering)"] == 6
    assert profile.functions["DedupeEngine._place (territory.dedupe.engine)"] == 5
    assert profile.functions["CandidateIndex.candidates (territory.dedupe.index)"] == 3
    assert profile.functions["main (territory.dedupe.service)"] == 10
    shares = dict(profile.function_shares())
    # `main` spends every sample in the handler, `_place` every one of its in `_link`:
    # pass-throughs. The handler calls several things and stays.
    assert "main (territory.dedupe.service)" not in shares
    assert "DedupeEngine._place (territory.dedupe.engine)" not in shares
    assert shares["DedupeService.on_client_received (territory.dedupe.service)"] == 1.0
    assert shares["Clustering._link (territory.dedupe.clustering)"] == pytest.approx(0.6)
    assert not any("stdlib" in name or "rapidfuzz" in name for name in shares)
    # Below the share, a caller is kept: `_link` called the index (5 of its 6 samples)
    # and `_component` (the recursive stack: once).
    assert profile.calls["Clustering._link (territory.dedupe.clustering)"] == {
        "CandidateIndex.candidates (territory.dedupe.index)": 3,
        "CandidateIndex._post (territory.dedupe.index)": 2,
        "Clustering._component (territory.dedupe.clustering)": 1,
    }


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (
            "/work/shared/src/territory/shared/kernel/consumer.py",
            "territory.shared.kernel.consumer",
        ),
        ("/work/shared/src/territory/shared/events/__init__.py", "territory.shared.events"),
        (f"{VENV}/sqlalchemy/engine/base.py", "sqlalchemy"),
        ("/usr/lib/python3/dist-packages/yaml/__init__.py", "yaml"),
        (f"{LIB}/sqlite3/dbapi2.py", "stdlib:sqlite3"),
        (f"{LIB}/uuid.py", "stdlib:uuid"),
        ("<frozen importlib._bootstrap>", "stdlib:importlib"),
    ],
)
def test_where(path: str, where: str) -> None:
    assert spy.where(path) == where


def test_render_puts_the_busiest_process_first_and_says_when_one_was_idle() -> None:
    busy = spy.Profile.parse(RAW)
    text = spy.render({"rules": spy.Profile(), "dedupe": busy})
    assert text.index("**dedupe** (10 samples") < text.index("**rules**: no samples")
    assert "| `rapidfuzz` | 30% |" in text
    assert "| `Clustering._link (territory.dedupe.clustering)` | 60% |" in text


def test_without_py_spy_the_profiler_says_so(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(spy, "py_spy", lambda: None)
    profiler = spy.Profiler({"dedupe": 1}, tmp_path).start()
    assert profiler.stop() == {}
    assert profiler.error is not None
    assert "uv sync --group bench" in profiler.error
