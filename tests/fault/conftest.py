"""Sizes and reports of the fault suite (issue 13).

CI size by default (`make test`); `make chaos` raises them through the environment:
  TERRITORY_FAULT_RECORDS          records in the kill -9 / replay run (default 1200)
  TERRITORY_FAULT_STREAM_RECORDS   records in the broker-restart and outage runs (600)
  TERRITORY_FAULT_OUTAGE_SECONDS   warehouse outage length (default 15; chaos: 60)
  TERRITORY_FAULT_BROKER_DOWN_SECONDS  broker down time (default 6; chaos: 22)
  TERRITORY_FAULT_TIMEOUT          seconds a run may take to settle (default 240)
  TERRITORY_FAULT_REPORT_DIR       where each case writes <case>.json and <case>.md
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from harness.reconcile import Reconciliation
from harness.sampler import load_average


class Reports:
    """Collects each case's reconciliation; written to TERRITORY_FAULT_REPORT_DIR if set."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def write(
        self, case: str, report: Reconciliation | None, extra: dict[str, Any] | None = None
    ) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        doc = {"case": case, "load": load_average(), **(extra or {})}
        if report is not None:
            doc["reconciliation"] = report.to_dict()
            (self.directory / f"{case}.md").write_text(
                report.to_markdown(title=case), encoding="utf-8"
            )
        (self.directory / f"{case}.json").write_text(
            json.dumps(doc, indent=2, default=str, sort_keys=True), encoding="utf-8"
        )


@pytest.fixture(scope="session")
def reports() -> Reports:
    d = os.environ.get("TERRITORY_FAULT_REPORT_DIR")
    return Reports(Path(d) if d else None)
