"""Sizes of the fault suite (tests/fault/conftest.py describes the variables)."""

from __future__ import annotations

import os


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


RECORDS = env_int("TERRITORY_FAULT_RECORDS", 1200)
STREAM_RECORDS = env_int("TERRITORY_FAULT_STREAM_RECORDS", 600)
OUTAGE_SECONDS = env_int("TERRITORY_FAULT_OUTAGE_SECONDS", 15)
BROKER_DOWN_SECONDS = env_int("TERRITORY_FAULT_BROKER_DOWN_SECONDS", 6)
TIMEOUT = env_int("TERRITORY_FAULT_TIMEOUT", 240)
