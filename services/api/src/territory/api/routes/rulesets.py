"""Rulesets: versions (read), preview of a candidate, publish, whitelist / blacklist overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError

from territory.api import actions
from territory.api.deps import (
    Admin,
    PageDep,
    RulesEditor,
    RuntimeDep,
    SessionDep,
    Steward,
    masker_for,
    not_found,
)
from territory.api.errors import PROBLEM_RESPONSES, ApiProblem
from territory.api.queries import rulesets as queries
from territory.api.schemas import (
    Accepted,
    BlacklistOverride,
    OverridePublished,
    Paged,
    PreviewResult,
    RulesetCandidate,
    RulesetPublication,
    RulesetVersionDetail,
    RulesetVersionSummary,
    WhitelistOverride,
)
from territory.shared.rulesets import PreviewDiff

router = APIRouter(prefix="/api/rulesets", tags=["rulesets"], responses=PROBLEM_RESPONSES)


@router.get("", summary="Published ruleset versions, newest first")
def list_rulesets(
    session: SessionDep, principal: Steward, page: PageDep
) -> Paged[RulesetVersionSummary]:
    items, total = queries.list_versions(session, page)
    return Paged.of(items, total, page)


@router.get("/versions/{version}", summary="One ruleset version with its document")
def get_ruleset(
    version: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Steward,
) -> RulesetVersionDetail:
    detail = queries.version_detail(session, masker_for(runtime, principal, session), version)
    if detail is None:
        raise not_found("ruleset version")
    return detail


@router.post(
    "/preview",
    summary="Diff of a candidate ruleset against the active one (computed by the rules service)",
    responses={502: {"description": "Bad gateway"}, 503: {"description": "Unavailable"}},
)
async def preview_ruleset(
    body: RulesetCandidate, runtime: RuntimeDep, principal: RulesEditor, request: Request
) -> PreviewResult:
    document = body.ruleset.model_dump(mode="json", exclude_none=True)
    answer = await runtime.rules.preview(document, request.headers.get("authorization"))
    try:
        diff = PreviewDiff.model_validate(answer)
    except ValidationError:
        raise ApiProblem(
            502, "the rules service returned something that is not a preview"
        ) from None
    return PreviewResult(candidate_version=body.ruleset.version, diff=diff)


@router.post(
    "",
    status_code=202,
    summary="Publish a ruleset (`ruleset.published`); the rules service reloads and replays",
)
async def publish_ruleset(
    body: RulesetPublication, runtime: RuntimeDep, principal: Admin
) -> Accepted:
    document = body.ruleset.model_dump(mode="json", exclude_none=True)
    event = actions.release_event(
        runtime, principal, document, comment=body.comment, replay=body.replay
    )
    return await actions.publish(runtime, event, f"ruleset {body.ruleset.version} published")


async def _override(
    runtime: RuntimeDep, request: Request, principal: RulesEditor, kind: str, change: object
) -> OverridePublished:
    active = await runtime.rules.active_ruleset(request.headers.get("authorization"))
    previous = str(active["version"])
    if isinstance(change, WhitelistOverride):
        document = actions.with_whitelist(active, change, principal.subject)
        comment = f"whitelist {change.client_id} → {change.territory_id}: {change.reason}"
    elif isinstance(change, BlacklistOverride):
        document = actions.with_blacklist(active, change, principal.subject)
        comment = (
            f"blacklist {change.client_id} ✗ {', '.join(change.territory_ids)}: {change.reason}"
        )
    else:  # pragma: no cover - the routes below pass one of the two
        raise TypeError(kind)
    document["version"] = actions.next_version(previous)
    event = actions.release_event(runtime, principal, document, comment=comment)
    accepted = await actions.publish(runtime, event, f"{kind} override published")
    return OverridePublished(
        **accepted.model_dump(), version=document["version"], previous_version=previous
    )


@router.post(
    "/whitelist",
    status_code=202,
    summary="Pin a client to a territory: a new ruleset version, published",
    responses={502: {"description": "Bad gateway"}, 503: {"description": "Unavailable"}},
)
async def add_whitelist(
    body: WhitelistOverride, runtime: RuntimeDep, principal: RulesEditor, request: Request
) -> OverridePublished:
    return await _override(runtime, request, principal, "whitelist", body)


@router.post(
    "/blacklist",
    status_code=202,
    summary="Keep a client out of territories: a new ruleset version, published",
    responses={502: {"description": "Bad gateway"}, 503: {"description": "Unavailable"}},
)
async def add_blacklist(
    body: BlacklistOverride, runtime: RuntimeDep, principal: RulesEditor, request: Request
) -> OverridePublished:
    return await _override(runtime, request, principal, "blacklist", body)
