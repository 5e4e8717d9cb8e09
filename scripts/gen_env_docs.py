"""Write the environment-variable reference of docs/DEPLOYMENT.md from the settings models.

    python scripts/gen_env_docs.py            # rewrites the generated section in place
    python scripts/gen_env_docs.py --check    # exit 1 when the section is out of date

Every setting is a pydantic field; its variable is `TERRITORY_` + the field path joined
by `__` (pydantic-settings' nesting), e.g. `TERRITORY_KAFKA__BOOTSTRAP_SERVERS`. The table
is rebuilt from the models, so a setting cannot be added without showing up here
(deploy/tests runs the check).
"""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from territory.api.settings import ApiSettings
from territory.dedupe.settings import DedupeSettings
from territory.ingestion.settings import IngestionSettings
from territory.loader.settings import LoaderSettings
from territory.rules.settings import RulesSettings
from territory.shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "DEPLOYMENT.md"
BEGIN = "<!-- BEGIN GENERATED: environment variables (scripts/gen_env_docs.py) -->"
END = "<!-- END GENERATED: environment variables -->"
PREFIX = "TERRITORY_"

# Each service's settings model; the `territory` CLI commands load the same ones.
SERVICES: dict[str, type[ServiceSettings]] = {
    "api": ApiSettings,
    "ingestion": IngestionSettings,
    "dedupe": DedupeSettings,
    "rules": RulesSettings,
    "loader": LoaderSettings,
}


# What a field means when its model gives no description (keys must be real variables;
# deploy/tests checks that none is stale).
NOTES: dict[str, str] = {
    "TERRITORY_ENVIRONMENT": "`production` refuses the development placeholders (secret key, API signing key, issuer); the images set it.",
    "TERRITORY_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR.",
    "TERRITORY_KAFKA__CLIENT_ID": "Kafka client id prefix (broker logs and quotas).",
    "TERRITORY_KAFKA__REQUEST_TIMEOUT_MS": "Kafka request timeout.",
    "TERRITORY_ARCHIVE__S3_BUCKET": "Bucket of the raw upload archive (ingestion); unset: the local folder below.",
    "TERRITORY_ARCHIVE__S3_PREFIX": "Key prefix of archived uploads.",
    "TERRITORY_ARCHIVE__S3_REGION": "Region of the archive bucket.",
    "TERRITORY_ARCHIVE__LOCAL_DIR": "Archive folder when no bucket is set (relative to /app in the images).",
    "TERRITORY_RETRY__ATTEMPTS": "Tries of one message before it becomes a dead letter.",
    "TERRITORY_RETRY__BACKOFF_SECONDS": "First wait between two tries (doubles each time).",
    "TERRITORY_RETRY__MAX_BACKOFF_SECONDS": "Longest wait between two tries.",
    "TERRITORY_SECRET_KEY": "Keys the API's pseudonymised (masked) values; the same on every replica. Required in production.",
    "TERRITORY_API__HOST": "Listen address (the images need `0.0.0.0`).",
    "TERRITORY_API__PORT": "Listen port.",
    "TERRITORY_API__RULES_TIMEOUT_SECONDS": "Timeout of a preview call to the rules service.",
    "TERRITORY_API__DEFAULT_PAGE_SIZE": "`limit` of a list when the client gives none.",
    "TERRITORY_API__RATE_LIMIT_BURST": "Requests a client may send at once before the sustained rate applies.",
    "TERRITORY_AUTH__ISSUER": "`iss` the API accepts. Required outside development.",
    "TERRITORY_AUTH__AUDIENCE": "`aud` the API accepts.",
    "TERRITORY_AUTH__ALGORITHMS": 'Accepted JWT algorithms, e.g. `["RS256"]` with an OIDC provider; never mix HS* with others.',
    "TERRITORY_AUTH__JWKS_URL": "The OIDC provider's `jwks_uri` (asymmetric algorithms).",
    "TERRITORY_AUTH__JWKS_CACHE_SECONDS": "How long fetched keys are kept.",
    "TERRITORY_AUTH__SIGNING_KEY": "Shared HS* key (32 characters at least) when neither JWKS_URL nor PUBLIC_KEY is set. Required outside development then.",
    "TERRITORY_AUTH__DEV_TOKEN_TTL_SECONDS": "Lifetime of `territory token` tokens (development issuer).",
    "TERRITORY_INGESTION__HOST": "Listen address (the images need `0.0.0.0`).",
    "TERRITORY_INGESTION__PORT": "Listen port.",
    "TERRITORY_INGESTION__MAX_RECORDS_PER_REQUEST": "Records in one JSON request.",
    "TERRITORY_INGESTION__PUBLISH_BATCH_SIZE": "Records sent to Kafka per pipelined batch.",
    "TERRITORY_DEDUPE__HOST": "Listen address (the images need `0.0.0.0`).",
    "TERRITORY_DEDUPE__PORT": "Listen port.",
    "TERRITORY_DEDUPE__ENGINE__THRESHOLDS__MERGE": "Match confidence from which a record joins a golden client.",
    "TERRITORY_DEDUPE__ENGINE__THRESHOLDS__REVIEW": "Match confidence from which a new golden client is flagged for review.",
    "TERRITORY_DEDUPE__ENGINE__SURVIVORSHIP__DEFAULT_RULE": "How a golden field is chosen among its records when no rule names it.",
    "TERRITORY_DEDUPE__ENGINE__SURVIVORSHIP__RULES": "Survivorship rule per field.",
    "TERRITORY_RULES__HOST": "Listen address (the images need `0.0.0.0`).",
    "TERRITORY_RULES__PORT": "Listen port.",
    "TERRITORY_RULES__MAX_PREVIEW_BYTES": "Largest candidate ruleset a preview accepts.",
    "TERRITORY_LOADER__HOST": "Listen address (the images need `0.0.0.0`).",
    "TERRITORY_LOADER__PORT": "Listen port.",
    "TERRITORY_LOADER__GROUP_ID": "Consumer group of the loader (its replicas share it).",
    "TERRITORY_LOADER__STAGING__S3_PREFIX": "Key prefix of staged Parquet batches.",
    "TERRITORY_LOADER__STAGING__S3_REGION": "Region of the staging bucket.",
}


@dataclass(frozen=True)
class Setting:
    env: str
    type: str
    default: str
    description: str


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return f"list of {_type_name(item)} (JSON)"
    if origin is dict or annotation is dict:
        return "object (JSON)"
    if annotation is type(None):
        return "unset"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "development placeholder: **set it**"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    if value == "":
        return "empty"
    return f"`{value}`"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def settings_of(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[Setting]:
    """Every leaf field of `model` as an environment variable, in declaration order."""
    out: list[Setting] = []
    for name, field in model.model_fields.items():
        here = (*path, name)
        if _is_model(field.annotation):
            out.extend(settings_of(field.annotation, here))  # type: ignore[arg-type]
            continue
        env = PREFIX + "__".join(here).upper()
        out.append(
            Setting(
                env=env,
                type=_type_name(field.annotation),
                default=_default(field),
                description=(field.description or NOTES.get(env, "")).replace("|", "\\|"),
            )
        )
    return out


def shared_settings() -> list[Setting]:
    return settings_of(ServiceSettings)


def own_settings(service: str) -> list[Setting]:
    common = {s.env for s in shared_settings()}
    return [s for s in settings_of(SERVICES[service]) if s.env not in common]


def _table(rows: list[Setting]) -> list[str]:
    lines = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{r.env}` | {r.type} | {r.default} | {r.description} |" for r in rows]
    return lines


def render() -> str:
    lines = [
        BEGIN,
        "",
        "### Every service",
        "",
        "Read by all five services and by the `territory` commands.",
        "",
        *_table(shared_settings()),
    ]
    for service in SERVICES:
        lines += ["", f"### {service}", "", *_table(own_settings(service))]
    lines += ["", END]
    return "\n".join(lines)


def updated(doc: str) -> str:
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    return doc[:start] + render() + doc[end:]


def main(argv: list[str]) -> int:
    doc = DOC.read_text()
    new = updated(doc)
    if "--check" in argv:
        if new != doc:
            print("docs/DEPLOYMENT.md is out of date: run scripts/gen_env_docs.py")
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote the environment reference of {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
