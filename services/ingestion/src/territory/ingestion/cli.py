"""`territory ingest …`: files from the command line, and the HTTP service."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from territory.ingestion.files import FileFormat, detect_format, ingest_file
from territory.ingestion.parsing import HeaderError
from territory.ingestion.pipeline import BrokerUnavailable, IngestionReport
from territory.ingestion.runtime import running
from territory.ingestion.settings import IngestionSettings
from territory.shared.log import configure_logging
from territory.shared.settings import load_settings

app = typer.Typer(help="Ingest client records into Kafka.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("file")
def ingest_file_command(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="PATH")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the extension)")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8",
    source_system: Annotated[
        str | None, typer.Option(help="Default source_system for rows without one.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate a CSV / JSONL file and publish it: usable rows to client.received (an invalid
    optional value is quarantined: left empty, kept as a field issue), unusable rows to
    client.rejected. Shows progress; prints counts by reason and field, with the first
    offending rows."""
    settings = load_settings(IngestionSettings)
    configure_logging("ingestion", level="WARNING", json_lines=False)
    # A broker that cannot be reached is reported once, below, not per connection attempt.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if fmt not in (None, "csv", "jsonl"):
        raise typer.BadParameter("--format must be csv or jsonl")
    file_format: FileFormat = fmt or detect_format(path.name)  # type: ignore[assignment]
    size = path.stat().st_size

    async def run() -> IngestionReport:
        async with running(settings) as runtime:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=json_output,
            ) as progress:
                task = progress.add_task(f"{path.name}", total=size)

                def update(rows: int, read: int) -> None:
                    progress.update(task, completed=read, description=f"{path.name}: {rows:,} rows")

                report = await ingest_file(
                    runtime,
                    path,
                    filename=path.name,
                    fmt=file_format,
                    encoding=encoding,
                    source_system=source_system,
                    progress=update,
                )
                progress.update(task, completed=size)
                return report

    try:
        report = asyncio.run(run())
    except HeaderError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except BrokerUnavailable as exc:
        # One line, no traceback: which broker, and how far the file got.
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(3) from None
    except (KafkaError, OSError) as exc:
        servers = settings.kafka.bootstrap_servers
        console.print(
            f"[red]error:[/] cannot reach the Kafka broker at {servers} "
            f"({_describe(exc)}); nothing was published",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(3) from None
    if json_output:
        typer.echo(report.model_dump_json(indent=2, exclude_none=True))
    else:
        print_report(report)


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc)
    return text if text.startswith(name) else f"{name}: {text}".rstrip(": ")


def print_report(report: IngestionReport) -> None:
    table = Table(title=f"upload {report.upload_id}", show_header=True)
    table.add_column("outcome")
    table.add_column("records", justify="right")
    table.add_row("[green]accepted[/]", f"{report.accepted:,}")
    for reason, n in report.rejected_by_reason.items():
        table.add_row(f"[red]rejected[/]: {reason}", f"{n:,}")
    table.add_row("[bold]total[/]", f"{report.total:,}")
    table.add_row(
        "[yellow]quarantined[/] (accepted, a field left empty)", f"{report.quarantined:,}"
    )
    for field, n in report.quarantined_by_field.items():
        table.add_row(f"[yellow]quarantined[/]: {field}", f"{n:,}")
    console.print(table)
    if report.problems:
        # Plain lines, not a table: the offending values must not be wrapped or cut.
        console.print("[bold]problems by reason and field[/] (first rows: row: value)")
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
        f"{report.records_per_second:,.0f} records/s · archived at {report.archive_uri}"
        + (f" · {report.blank_lines} blank lines skipped" if report.blank_lines else "")
        + (
            f" · ignored columns: {', '.join(report.ignored_columns)}"
            if report.ignored_columns
            else ""
        )
    )


@app.command("serve")
def serve() -> None:
    """Run the ingestion HTTP service (see TERRITORY_INGESTION__PORT)."""
    from territory.ingestion.app import main

    main()
