"""Turning validation failures into the contract's machine-readable errors and reasons."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from territory.shared.events import FieldError, RejectReason


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or None
        code = str(err["type"])
        if code == "value_error" and loc and loc.endswith("email"):
            code = "invalid_email"
        errors.append(FieldError(field=loc, code=code, message=err["msg"]))
    return errors


def reason_for(errors: Sequence[FieldError]) -> RejectReason:
    """One reason per rejected record, for counting: missing fields first, then bad values."""
    if any(e.code == "missing" for e in errors):
        return RejectReason.MISSING_REQUIRED_FIELD
    return RejectReason.INVALID_VALUE
