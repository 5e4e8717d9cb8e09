"""A golden client reduced to what rules test: normalised values and identity keys.

Strings are compared case-insensitively (and postal codes without spaces), so values are
normalised once here and condition values once at compile time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from territory.rules.ruleset import NumberField, StringField
from territory.shared.events import GoldenClient

Value = str | float | None

# The fields a ruleset may test, from the ruleset's own vocabulary (`tier` is derived from
# the tiers, not read from the client).
STRING_FIELDS: tuple[str, ...] = tuple(f for f in get_args(StringField) if f != "tier")
NUMBER_FIELDS: tuple[str, ...] = get_args(NumberField)


def norm_text(field: str, value: Any) -> str:
    text = str(value)
    if field == "postal_code":
        text = text.replace(" ", "").replace("-", "")
    return text.strip().casefold()


@dataclass(slots=True)
class ClientFacts:
    client_id: str
    parent_id: str | None
    values: dict[str, Value]
    # ("client_id", id), ("source_key", "system:id"), ("lei", LEI): how whitelist and
    # blacklist entries name a client.
    keys: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, client: GoldenClient) -> ClientFacts:
        record = client.record
        values: dict[str, Value] = {}
        for name in STRING_FIELDS:
            if name == "source_system":
                raw: Any = client.trigger.source_system
            else:
                raw = getattr(record, name)
            values[name] = None if raw is None else norm_text(name, raw)
        for name in NUMBER_FIELDS:
            raw = getattr(record, name)
            values[name] = None if raw is None else float(raw)
        keys: list[tuple[str, str]] = [("client_id", client.client_id)]
        refs = {*client.source_records, client.trigger}
        keys.extend(("source_key", ref.source_key) for ref in sorted(refs, key=_ref_key))
        if record.lei:
            keys.append(("lei", record.lei.upper()))
        return cls(client.client_id, client.parent_client_id, values, tuple(keys))

    @classmethod
    def build(
        cls,
        client_id: str,
        *,
        parent_id: str | None = None,
        source_keys: tuple[str, ...] = (),
        **fields: Any,
    ) -> ClientFacts:
        """Facts from plain values (tests, benchmarks, synthetic clients)."""
        values: dict[str, Value] = {}
        for name in STRING_FIELDS:
            raw = fields.get(name)
            values[name] = None if raw is None else norm_text(name, raw)
        for name in NUMBER_FIELDS:
            raw = fields.get(name)
            values[name] = None if raw is None else float(raw)
        keys = [("client_id", client_id), *(("source_key", k) for k in source_keys)]
        if fields.get("lei"):
            keys.append(("lei", str(fields["lei"]).upper()))
        return cls(client_id, parent_id, values, tuple(keys))


def _ref_key(ref: Any) -> str:
    return str(ref.source_key)
