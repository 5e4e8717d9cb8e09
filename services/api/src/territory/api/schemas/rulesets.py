"""Rulesets: candidates, publications, previews, overrides, versions."""

from __future__ import annotations

from datetime import date
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from territory.api.schemas.common import Accepted
from territory.shared.events import UtcDatetime
from territory.shared.rulesets import PreviewDiff, RulesetDimensions


class RulesetDocument(RulesetDimensions):
    """The shape the API checks before forwarding or publishing: the version, territories
    and advisors with the models every service reads them with; the rules service owns the
    rest (`rules`, `tiers`, `whitelist`, `blacklist`, …) and validates it fully on load."""

    model_config = ConfigDict(extra="allow")


class RulesetCandidate(BaseModel):
    """A ruleset as a JSON object (`document`) or as the YAML text an editor holds (`yaml`)."""

    document: RulesetDocument | None = None
    yaml_text: str | None = Field(
        None, alias="yaml", max_length=2_000_000, description="The ruleset as YAML text."
    )
    comment: str | None = Field(None, max_length=1000)

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_document(self) -> Self:
        if (self.document is None) == (self.yaml_text is None):
            raise ValueError("give exactly one of `document` and `yaml`")
        if self.yaml_text is not None:
            try:
                data = yaml.safe_load(self.yaml_text)
            except yaml.YAMLError as exc:
                raise ValueError(f"the YAML cannot be parsed: {type(exc).__name__}") from None
            self.document = RulesetDocument.model_validate(data)
            self.yaml_text = None
        return self

    @property
    def ruleset(self) -> RulesetDocument:
        if self.document is None:  # pragma: no cover - the validator guarantees it
            raise RuntimeError("candidate without a document")
        return self.document


class RulesetPublication(RulesetCandidate):
    replay: bool = Field(True, description="Re-decide every client after loading it.")


class PreviewResult(BaseModel):
    candidate_version: str
    diff: PreviewDiff = Field(..., description="What would change, as the rules service says.")


class WhitelistOverride(BaseModel):
    client_id: str = Field(..., min_length=1, max_length=128)
    territory_id: str = Field(..., min_length=1, max_length=128)
    reason: str = Field(..., min_length=1, max_length=1000)
    expires: date | None = Field(None, description="Last day the pin applies (inclusive).")


class BlacklistOverride(BaseModel):
    client_id: str = Field(..., min_length=1, max_length=128)
    territory_ids: list[str] = Field(..., min_length=1, max_length=100)
    reason: str = Field(..., min_length=1, max_length=1000)


class OverridePublished(Accepted):
    version: str
    previous_version: str


class RulesetVersionSummary(BaseModel):
    version: str
    published_by: str
    comment: str | None
    published_at: UtcDatetime
    active: bool


class RulesetVersionDetail(RulesetVersionSummary):
    document: dict[str, Any]
