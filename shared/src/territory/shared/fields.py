"""The client record's fields, declared once (`ClientRecord` in the contract) and mapped to
every other shape from here.

The warehouse columns of staging and CLIENT_DIM (`territory.shared.warehouse.schema`), the
loader's rows (`territory.loader.rows`) and the API's golden record (`GoldenRecord`, whose
field set a test derives from this list) follow `DESCRIPTIVE_FIELDS`, in the contract's
order. Names differ in one place only, on purpose:

- `advisor_email` on a *record* is the advisor an upstream CRM names: a hint, not an
  assignment. On an *assignment* (`Assignment.advisor_email`, `ASSIGNMENTS_FACT`,
  `CLIENT_DIM.advisor_email`) it is the advisor the rules service assigned. The contract
  field keeps its public name (upstream CRMs send it); everywhere the two meet, the hint is
  `advisor_email_hint` (warehouse) or `advisor_hint` (API).
"""

from __future__ import annotations

import typing
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic.fields import FieldInfo

from territory.shared.events import ClientRecord

# Fields that identify a source record rather than describe the client.
IDENTITY_FIELDS = ("source_system", "source_id", "parent_source_id")
# Fields about the record's quality rather than the client: the field issues of field-level
# quarantine have a table of their own (`CLIENT_FIELD_ISSUES`), one row per issue.
QUALITY_FIELDS = ("field_issues",)
DESCRIPTIVE_FIELDS: tuple[str, ...] = tuple(
    f for f in ClientRecord.model_fields if f not in IDENTITY_FIELDS + QUALITY_FIELDS
)

# The upstream advisor hint, by its names in each shape.
ADVISOR_HINT = "advisor_email"
WAREHOUSE_NAMES: dict[str, str] = {ADVISOR_HINT: "advisor_email_hint"}
API_NAMES: dict[str, str] = {ADVISOR_HINT: "advisor_hint"}


def warehouse_name(field: str) -> str:
    return WAREHOUSE_NAMES.get(field, field)


def api_name(field: str) -> str:
    return API_NAMES.get(field, field)


def field_info(field: str) -> FieldInfo:
    return ClientRecord.model_fields[field]


def value_type(field: str) -> type[Any]:
    """The field's value type without `None` and annotations (str, Decimal, an enum, …)."""
    annotation: Any = field_info(field).annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    found: Any = args[0] if args else annotation
    while typing.get_origin(found) is typing.Annotated:
        found = typing.get_args(found)[0]
    return found  # type: ignore[no-any-return]


def max_length(field: str) -> int | None:
    """The length limit the contract puts on a text field (None when it sets none)."""
    info = field_info(field)
    annotation: Any = info.annotation
    nested = [
        FieldInfo.from_annotation(arg)
        for arg in typing.get_args(annotation)
        if typing.get_origin(arg) is typing.Annotated
    ]
    for item in (info, *nested):
        for meta in item.metadata:
            limit = getattr(meta, "max_length", None)
            if limit is not None:
                return int(limit)
    return None


def is_enum(field: str) -> bool:
    kind = value_type(field)
    return isinstance(kind, type) and issubclass(kind, Enum)


def is_timestamp(field: str) -> bool:
    return value_type(field) is datetime
