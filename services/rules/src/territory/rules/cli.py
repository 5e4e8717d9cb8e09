"""`territory rules …`: validate, publish, preview, reassign, serve."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from territory.rules.ruleset import RulesetError, load_ruleset, ruleset_document
from territory.rules.settings import RulesSettings
from territory.shared.broker import EventPublisher, ensure_topics, make_broker
from territory.shared.events import RulesCommand, RulesCommanded, RulesetPublished, RulesetRelease
from territory.shared.rulesets import PreviewDiff
from territory.shared.settings import load_settings

app = typer.Typer(
    help="Territory rules: validate, publish, preview, reassign.", no_args_is_help=True
)
console = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


def _load(path: Path) -> RulesetRelease | None:
    try:
        ruleset = load_ruleset(path)
    except RulesetError as exc:
        console.print(f"[red]✗ {path}[/]")
        for where, what in exc.problems:
            console.print(f"  [bold]{where}[/]: {what}")
        return None
    return RulesetRelease(
        version=ruleset.version, document=ruleset_document(ruleset), published_by="cli"
    )


@app.command()
def validate(path: FileArg) -> None:
    """Validate a ruleset file (exit 1 with the path of every problem)."""
    release = _load(path)
    if release is None:
        raise typer.Exit(1)
    doc = release.document
    console.print(
        f"[green]✓[/] {path}: version {release.version}, {len(doc['territories'])} territories, "
        f"{len(doc['advisors'])} advisors, {len(doc.get('tiers', []))} tiers, "
        f"{len(doc.get('rules', []))} rules"
    )


async def _publish_event(settings: RulesSettings, event: RulesetPublished | RulesCommanded) -> None:
    await ensure_topics(settings.kafka)
    broker = make_broker(settings.kafka, client_id="rules-cli")
    await broker.connect()
    try:
        await EventPublisher(broker, settings.kafka.topics).publish(event)
    finally:
        await broker.stop()


@app.command()
def publish(
    path: FileArg,
    by: Annotated[str, typer.Option("--by", help="Who publishes (audit trail).")] = "cli",
    comment: Annotated[str | None, typer.Option()] = None,
    replay: Annotated[bool, typer.Option(help="Re-decide every client after loading.")] = True,
) -> None:
    """Publish a ruleset on `ruleset.published` (the rules service loads and replays it)."""
    release = _load(path)
    if release is None:
        raise typer.Exit(1)
    release = release.model_copy(update={"published_by": by, "comment": comment, "replay": replay})
    settings = load_settings(RulesSettings)
    asyncio.run(_publish_event(settings, RulesetPublished(producer="rules-cli", payload=release)))
    console.print(f"[green]✓[/] published ruleset {release.version}")


@app.command()
def reassign(
    by: Annotated[str, typer.Option("--by")] = "cli",
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Ask the rules service to re-decide every client now (the nightly job)."""
    settings = load_settings(RulesSettings)
    command = RulesCommand(action="reassign", requested_by=by, reason=reason)
    asyncio.run(_publish_event(settings, RulesCommanded(producer="rules-cli", payload=command)))
    console.print("[green]✓[/] reassignment requested")


@app.command("preview")
def preview_command(
    path: FileArg,
    url: Annotated[
        str | None, typer.Option(help="Rules service base URL (default: its configured port).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Moves to list.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Compare a candidate ruleset with the active one over the current clients."""
    if _load(path) is None:
        raise typer.Exit(1)
    settings = load_settings(RulesSettings)
    base = url or f"http://{settings.rules.host}:{settings.rules.port}"
    response = httpx.post(
        f"{base}/v1/preview",
        content=path.read_bytes(),
        params={"limit": limit},
        headers={"content-type": "application/yaml"},
        timeout=300,
    )
    if response.status_code != 200:
        console.print(f"[red]preview failed ({response.status_code})[/]: {response.text}")
        raise typer.Exit(1)
    diff = PreviewDiff.model_validate(response.json())
    if as_json:
        print(json.dumps(response.json(), indent=2))
        return
    print_diff(diff)


def print_diff(diff: PreviewDiff) -> None:
    out = Console()
    out.print(
        f"[bold]{diff.active_version} → {diff.candidate_version}[/]: {diff.moved:,} of "
        f"{diff.clients:,} clients would move"
        + (f", {diff.held_back:,} held back by the churn guard" if diff.held_back else "")
        + (" — [red]the ruleset would be refused[/]" if diff.refused else "")
    )
    table = Table(title="territories")
    for col in ("territory", "before", "after", "Δ"):
        table.add_column(col, justify="left" if col == "territory" else "right")
    for t in diff.territories:
        table.add_row(t.territory_id, str(t.before), str(t.after), f"{t.after - t.before:+d}")
    out.print(table)
    table = Table(title="advisors (clients per tier / capacity)")
    for col in ("advisor", "before", "after", "over capacity"):
        table.add_column(col)

    def fmt(load: dict[str, int], cap: dict[str, int]) -> str:
        return ", ".join(
            f"{t} {load.get(t, 0)}/{cap.get(t, 0)}" for t in sorted(set(load) | set(cap))
        )

    for a in diff.advisors:
        table.add_row(
            a.advisor_email,
            fmt(a.before, a.capacity_before),
            fmt(a.after, a.capacity_after),
            ", ".join(a.over_capacity_after),
        )
    out.print(table)
    if diff.moves:
        table = Table(title="moves" + (" (first ones)" if diff.moves_truncated else ""))
        for col in ("client", "from", "to", "rule"):
            table.add_column(col)
        for m in diff.moves:
            table.add_row(
                m.client_id,
                f"{m.from_territory} / {m.from_advisor}",
                f"{m.to_territory} / {m.to_advisor}",
                m.rule_id or "",
            )
        out.print(table)
    out.print(f"new conflicts: {diff.new_conflicts_by_kind or 'none'}")
    out.print(f"resolved conflicts: {diff.resolved_conflicts_by_kind or 'none'}")


@app.command()
def serve() -> None:
    """Run the rules service (Kafka consumers + HTTP on its port)."""
    from territory.rules.app import main

    main()
