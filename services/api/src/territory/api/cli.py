"""`territory api serve` and `territory token` (the development issuer)."""

from __future__ import annotations

from typing import Annotated

import typer

from territory.api.security import Role, issue_dev_token
from territory.api.settings import ApiSettings
from territory.shared.access import POLICY
from territory.shared.settings import load_settings

app = typer.Typer(help="The API service.", no_args_is_help=True)


@app.command("serve")
def serve() -> None:
    """Run the API (see TERRITORY_API__PORT, default 8000)."""
    from territory.api.app import main

    main()


token_app = typer.Typer(help="Print a development bearer token for the API.")


@token_app.callback(invoke_without_command=True)
def token(
    role: Annotated[
        list[Role],
        typer.Option("--role", help="Role (repeat for several).", case_sensitive=False),
    ],
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="Sales region the token may see (repeatable)."),
    ] = None,
    subject: Annotated[str, typer.Option(help="Who the token speaks for.")] = "dev@territory.local",
    ttl: Annotated[int | None, typer.Option(help="Seconds until it expires.")] = None,
) -> None:
    """Sign a token with the development key (refused outside development):
    `territory token --role SALES_LEADERSHIP --region EMEA`. Regions are only for
    region-scoped roles: for the others they would be silently ignored, so they are refused."""
    settings = load_settings(ApiSettings)
    if settings.environment != "development":
        raise typer.BadParameter("the development issuer only works in development")
    if region:
        global_roles = [r for r in role if POLICY[r].all_regions]
        if global_roles and len(global_roles) == len(role):
            names = ", ".join(r.value for r in global_roles)
            scoped = ", ".join(r.value for r in Role if not POLICY[r].all_regions)
            raise typer.BadParameter(
                f"{names} sees every region; regions are only for {scoped}",
                param_hint="--region",
            )
    typer.echo(
        issue_dev_token(
            settings.auth, subject=subject, roles=role, regions=region or [], ttl_seconds=ttl
        )
    )
