"""`territory dedupe …`: the report over a file, and the service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from territory.dedupe.report import TruthFileError, build_report, read_records, read_truth
from territory.dedupe.settings import DedupeSettings
from territory.shared.settings import load_settings

app = typer.Typer(help="De-duplicate client records into golden clients.", no_args_is_help=True)
console = Console(stderr=True)


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
) -> None:
    """De-duplicate a CSV / JSONL file of client records (offline, same engine and settings
    as the service) and report clusters, scored pairs, counts per decision and problems by
    reason and field (first rows). With --truth, refused records count as singletons."""
    settings = load_settings(DedupeSettings)
    try:
        truth_map = read_truth(truth) if truth else None
    except TruthFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--truth") from None
    report, _ = build_report(read_records(path), settings.dedupe.engine, truth_map)
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


@app.command("serve")
def serve() -> None:
    """Run the dedupe service (see TERRITORY_DEDUPE__PORT)."""
    from territory.dedupe.service import main

    main()
