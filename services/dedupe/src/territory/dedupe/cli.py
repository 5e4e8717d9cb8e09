"""`territory dedupe …`: the report over a file, model estimation, and the service.

- `report FILE [--truth T] [--model M | --estimate] [--merge-threshold X]
  [--review-threshold Y]`: de-duplicate a file, with the configured weights, a model file's,
  or weights estimated by EM from the file's own records;
- `model estimate FILE -o M`: estimate m/u by EM from a file's records and write
  the model (versioned JSON);
- `model show M`: the model's version, provenance and every weight beside its default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from territory.dedupe.engine import EngineSettings
from territory.dedupe.normalize import Profile, profile_of
from territory.dedupe.report import TruthFileError, build_report, read_records, read_truth
from territory.dedupe.scoring import FieldWeights, Thresholds
from territory.dedupe.settings import DedupeSettings
from territory.dedupe.training import DedupeModel, estimate_model, load_model, save_model
from territory.shared.events import ClientRecord
from territory.shared.settings import load_settings

app = typer.Typer(help="De-duplicate client records into golden clients.", no_args_is_help=True)
model_app = typer.Typer(help="Estimate and inspect scoring models.", no_args_is_help=True)
app.add_typer(model_app, name="model")
console = Console(stderr=True)


def _profiles(path: Path) -> list[Profile]:
    """The valid records of a file as profiles (invalid rows are left out, as in the
    report); a later version of a source record replaces the earlier one."""
    out: dict[str, Profile] = {}
    for row in read_records(path):
        try:
            record = ClientRecord.model_validate(row)
        except ValidationError:
            continue
        out[record.source_key] = profile_of(record)
    return list(out.values())


def _engine_settings(
    base: EngineSettings,
    path: Path,
    model: Path | None,
    estimate: bool,
    merge: float | None,
    review: float | None,
) -> EngineSettings:
    if model is not None and estimate:
        raise typer.BadParameter("give --model or --estimate, not both")
    settings = base
    if model is not None:
        loaded = load_model(model)
        console.print(f"model {loaded.version} from {model}")
        settings = settings.model_copy(update={"weights": loaded.weights})
    elif estimate:
        estimated = estimate_model(_profiles(path), base.weights)
        console.print(f"weights estimated by EM from {path.name}: model {estimated.version}")
        settings = settings.model_copy(update={"weights": estimated.weights})
    if merge is not None or review is not None:
        thresholds = Thresholds(
            merge=merge if merge is not None else settings.thresholds.merge,
            review=review if review is not None else settings.thresholds.review,
        )
        settings = settings.model_copy(update={"thresholds": thresholds})
    return settings


@app.command("report")
def report_command(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="PATH")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON document here.")
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Ground truth CSV (source_system, source_id, entity_id): adds F1."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the JSON document.")] = False,
    model: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Score with this model file's weights."),
    ] = None,
    estimate: Annotated[
        bool, typer.Option("--estimate", help="Estimate the weights by EM from this file first.")
    ] = False,
    merge_threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Auto-merge at this confidence.")
    ] = None,
    review_threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Review at this confidence.")
    ] = None,
) -> None:
    """De-duplicate a CSV / JSONL file of client records (offline, same engine and settings
    as the service) and report clusters, scored pairs, counts per decision and problems by
    reason and field (first rows). With --truth, refused records count as singletons."""
    settings = load_settings(DedupeSettings)
    engine_settings = _engine_settings(
        settings.dedupe.engine, path, model, estimate, merge_threshold, review_threshold
    )
    try:
        truth_map = read_truth(truth) if truth else None
    except TruthFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--truth") from None
    report, _ = build_report(read_records(path), engine_settings, truth_map)
    document = report.model_dump_json(indent=2)
    if output is not None:
        output.write_text(document, encoding="utf-8")
    if json_output:
        typer.echo(document)
        return
    table = Table(title=f"dedupe report: {path.name}")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for decision, n in report.counts.items():
        table.add_row(decision, f"{n:,}")
    table.add_row("rejected (unusable)", f"{report.rejected:,}")
    table.add_row("quarantined (kept, a field left empty)", f"{report.quarantined:,}")
    table.add_row("[bold]golden clients[/]", f"{report.golden_clients:,}")
    console.print(table)
    if report.problems:
        # Plain lines, not a table: the offending values must not be wrapped or cut.
        console.print("problems by reason and field (first rows: row: value)", markup=False)
        for p in report.problems:
            rows = "; ".join(
                f"{e.row}: {e.value!r}" if e.value is not None else str(e.row) for e in p.examples
            )
            console.print(
                f"  {p.outcome} {p.reason} {p.field or '(record)'}: {p.count:,} records"
                f" · first rows {rows}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
    console.print(
        f"{len(report.clusters):,} clusters of 2+ records · {len(report.review_queue):,} pairs "
        f"to review · {report.records_per_second:,.0f} records/s"
    )
    if report.quality is not None:
        q = report.quality
        console.print(
            f"pairwise precision {q.precision:.4f} recall {q.recall:.4f} F1 {q.f1:.4f} · "
            f"cluster F1 {q.cluster_f1:.4f}"
        )
    if output is not None:
        console.print(f"JSON report written to {output}")


@model_app.command("estimate")
def model_estimate(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the model here.")],
) -> None:
    """Estimate m/u by EM from a CSV / JSONL file's records (unsupervised, deterministic)
    and write the model as a versioned JSON file."""
    start = load_settings(DedupeSettings).dedupe.engine.weights
    model = estimate_model(_profiles(path), start)
    save_model(model, output)
    console.print(f"model {model.version} written to {output}")
    _show(model)


@model_app.command("show")
def model_show(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    json_output: Annotated[bool, typer.Option("--json", help="Print the model file.")] = False,
) -> None:
    """Show a model file: its version, how it was estimated, and every weight beside the
    built-in default."""
    model = load_model(path)
    if json_output:
        typer.echo(model.model_dump_json(indent=2))
        return
    _show(model)


def _show(model: DedupeModel) -> None:
    out = Console()
    out.print(
        f"model {model.version} (format {model.format}, {model.method}, {model.created_at:%Y-%m-%d %H:%M} UTC)"
    )
    if model.estimation is not None:
        e = model.estimation
        out.print(
            f"estimated from {e.records:,} records (digest {e.records_digest}): "
            f"{e.candidate_pairs:,} candidate pairs ({e.distinct_patterns:,} distinct level "
            f"vectors), {e.iterations} EM iterations, match share {e.match_share:.4f}"
        )
    table = Table(title="weights (log2 likelihood ratios)")
    table.add_column("level")
    table.add_column("model", justify="right")
    table.add_column("default", justify="right")
    defaults = FieldWeights()
    for name, value in model.weights.model_dump().items():
        default = getattr(defaults, name)
        mark = "" if abs(value - default) < 1e-9 else " *"
        table.add_row(name, f"{value:.3f}{mark}", f"{default:.3f}")
    out.print(table)


@app.command("serve")
def serve() -> None:
    """Run the dedupe service (see TERRITORY_DEDUPE__PORT)."""
    from territory.dedupe.service import main

    main()
