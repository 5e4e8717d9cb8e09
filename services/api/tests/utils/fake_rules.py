"""A small rules service on loopback, for the API's forwarding tests.

The API talks HTTP to the rules service: this is that boundary, a real HTTP server in a
thread (not a mock of httpx), answering like the rules service's `/v1/preview` and
`/v1/ruleset` with the rules service's own models (`territory.shared.rulesets`). Its
preview computes a diff from the document it receives, so a test can tell that the API
forwarded the caller's document and not something else.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel

from territory.shared.rulesets import ActiveRuleset, PreviewDiff, TerritoryCount

ACTIVE_RULESET: dict[str, Any] = {
    "version": "2026.11.7",
    "territories": [
        {"id": "na-east", "name": "NA East", "region": "NA", "advisors": ["ann@example.com"]},
        {"id": "emea-uk", "name": "UK", "region": "EMEA", "advisors": ["bob@example.com"]},
    ],
    "advisors": [
        {"email": "ann@example.com", "name": "Ann", "capacity": {"t1": 10}},
        {"email": "bob@example.com", "name": "Bob", "capacity": {"t1": 10}},
    ],
    "tiers": [{"id": "t1"}],
    "rules": [],
    "whitelist": [
        {
            "client_id": "c-old",
            "territory": "na-east",
            "reason": "contract",
            "owner": "someone",
        }
    ],
    "blacklist": [
        {"client_id": "c-9", "territories": ["na-east"], "reason": "conflict of interest"}
    ],
}


@dataclass
class FakeRules:
    url: str
    active: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(ACTIVE_RULESET))
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200  # answer every request with this status
    delay: float = 0.0


def _active(document: dict[str, Any]) -> ActiveRuleset:
    return ActiveRuleset(
        version=document["version"],
        fingerprint="fake",
        source="ruleset.published@0",
        published_by="someone",
        activated_at=datetime(2026, 11, 1, tzinfo=UTC),
        clients=2,
        assigned=2,
        open_conflicts=0,
        document=document,
    )


def _diff(active: dict[str, Any], candidate: dict[str, Any]) -> PreviewDiff:
    """One client per territory: a territory the candidate drops loses its client, one it
    adds gains one."""
    before = {t["id"] for t in active.get("territories", [])}
    after = {t["id"] for t in candidate.get("territories", [])}
    return PreviewDiff(
        active_version=active["version"],
        candidate_version=str(candidate.get("version")),
        clients=len(before),
        moved=len(before - after),
        moves=[],
        territories=[
            TerritoryCount(territory_id=t, before=int(t in before), after=int(t in after))
            for t in sorted(before | after)
        ],
        advisors=[],
        new_conflicts=[],
        resolved_conflicts=[],
        new_conflicts_by_kind={},
        resolved_conflicts_by_kind={},
        took_seconds=0.0,
    )


@contextmanager
def fake_rules_server() -> Iterator[FakeRules]:
    state = FakeRules(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            if isinstance(body, BaseModel):
                body = body.model_dump(mode="json")
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: Any = None) -> bool:
            state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("authorization"),
                    "body": body,
                }
            )
            if state.delay:
                time.sleep(state.delay)
            if state.status != 200:
                self._answer(state.status, {"detail": f"fake rules says {state.status}"})
                return False
            return True

        def do_GET(self) -> None:
            if self._record() and self.path == "/v1/ruleset":
                self._answer(200, _active(state.active))
            elif state.status == 200:
                self._answer(404, {"detail": "no such path"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if self._record(body) and self.path == "/v1/preview":
                self._answer(200, _diff(state.active, body))
            elif state.status == 200:
                self._answer(404, {"detail": "no such path"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
