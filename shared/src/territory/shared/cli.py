"""The `territory` command. Each installed service adds its subcommands through the
`territory.cli` entry-point group, so this module imports no service."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import entry_points

import typer
from rich.console import Console
from rich.table import Table

from territory.shared.broker import ensure_topics, topic_message_counts
from territory.shared.settings import ServiceSettings, load_settings

app = typer.Typer(
    name="territory",
    help="Territory Engine: CRM territory and segmentation, event-driven.",
    no_args_is_help=True,
)
topics_app = typer.Typer(help="Kafka topics of the event contract.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
console = Console(stderr=True)


@topics_app.command("create")
def create_topics() -> None:
    """Create every contract topic (idempotent)."""
    settings = load_settings(ServiceSettings)
    asyncio.run(ensure_topics(settings.kafka))
    for name, spec in settings.kafka.topics.all().items():
        console.print(f"[green]✓[/] {name} ({spec.partitions} partitions)")


@topics_app.command("stats")
def topic_stats() -> None:
    """Messages per contract topic (sum of end offsets over partitions)."""
    settings = load_settings(ServiceSettings)
    counts = asyncio.run(topic_message_counts(settings.kafka))
    table = Table(title=f"topics on {settings.kafka.bootstrap_servers}")
    table.add_column("topic")
    table.add_column("messages", justify="right")
    for name, count in counts.items():
        table.add_row(name, "-" if count is None else f"{count:,}")
    Console().print(table)


def _load_plugins() -> None:
    for ep in sorted(entry_points(group="territory.cli"), key=lambda e: e.name):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not break the whole CLI
            logging.getLogger(__name__).warning("cannot load %s: %s", ep.name, exc)
            continue
        app.add_typer(sub, name=ep.name)


def main() -> None:
    _load_plugins()
    app()
