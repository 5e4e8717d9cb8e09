"""`territory warehouse migrate|status` and `territory loader serve`."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from territory.loader.settings import LoaderSettings
from territory.loader.status import last_batch, table_counts, topic_lag
from territory.shared.settings import load_settings
from territory.shared.warehouse.engine import create_warehouse_engine
from territory.shared.warehouse.migrate import current_revision, head_revision, migrate

warehouse_app = typer.Typer(help="Create, migrate and inspect the warehouse.", no_args_is_help=True)
loader_app = typer.Typer(help="The loader service (events → warehouse).", no_args_is_help=True)
console = Console(stderr=True)


def _url(settings: LoaderSettings) -> str:
    return (
        settings.warehouse_url.split("@")[-1]
        if "@" in settings.warehouse_url
        else settings.warehouse_url
    )


@warehouse_app.command("migrate")
def migrate_command(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create the warehouse, or upgrade it to the latest schema (idempotent)."""
    settings = load_settings(LoaderSettings)
    engine = create_warehouse_engine(settings.warehouse_url)
    try:
        before = current_revision(engine)
        after = migrate(engine, revision)
    finally:
        engine.dispose()
    state = "up to date" if before == after else f"{before or 'empty'} → {after}"
    console.print(f"[green]✓[/] warehouse {_url(settings)}: revision {after} ({state})")


@warehouse_app.command("status")
def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    skip_kafka: Annotated[
        bool, typer.Option("--no-kafka", help="Do not ask Kafka for lag.")
    ] = False,
) -> None:
    """Lag per topic, rows per table and the last batch the loader made durable."""
    settings = load_settings(LoaderSettings)
    engine = create_warehouse_engine(settings.warehouse_url)
    try:
        revision = current_revision(engine)
        counts = table_counts(engine) if revision else {}
        batch = last_batch(engine) if revision else None
    finally:
        engine.dispose()
    lag = {} if skip_kafka else asyncio.run(topic_lag(settings.kafka, settings.loader.group_id))
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "revision": revision,
                    "head": head_revision(),
                    "lag": lag,
                    "rows": counts,
                    "last_batch": batch,
                },
                default=str,
                indent=2,
            )
        )
        return
    out = Console()
    out.print(
        f"warehouse {_url(settings)}: revision {revision or '(not created)'} (head {head_revision()})"
    )
    if lag:
        table = Table(title=f"lag of consumer group {settings.loader.group_id}")
        table.add_column("topic")
        table.add_column("not yet loaded", justify="right")
        for name, value in lag.items():
            table.add_row(name, "-" if value is None else f"{value:,}")
        out.print(table)
    rows = Table(title="rows per table")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, n in counts.items():
        rows.add_row(name, f"{n:,}")
    out.print(rows)
    if batch:
        out.print(
            f"last batch {batch['batch_id']}: {batch['events']:,} events at {batch['finished_at']}"
            f" ({batch['events_by_topic']}, dead letters {batch['dead_letters']}, attempts {batch['attempts']})"
        )
    else:
        out.print("no batch loaded yet")


@loader_app.command("serve")
def serve() -> None:
    """Run the loader (health, readiness and metrics on TERRITORY_LOADER__PORT, 8004)."""
    from territory.loader.app import main

    main()
