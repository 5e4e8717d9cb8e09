"""The API's golden record has one field per descriptive field of the contract's record."""

from __future__ import annotations

from territory.api.schemas import GoldenRecord
from territory.shared import fields


def test_the_golden_record_carries_every_field_of_the_contracts_record():
    own = {"client_id", "parent_client_id", "decision", "version"}
    derived = {fields.api_name(f) for f in fields.DESCRIPTIVE_FIELDS}
    assert set(GoldenRecord.model_fields) == derived | own
    assert "advisor_hint" in GoldenRecord.model_fields  # the hint, never `advisor_email`
