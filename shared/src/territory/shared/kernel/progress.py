"""Is a consumer making progress? Readiness says no when one is stuck.

A consumer is stuck when a batch has been in hand (processing, retrying, or failing and
read again because even its dead letter could not be written) for longer than
`kafka.consumer_stall_seconds` without completing: its records stay uncommitted while the
lag behind them grows. `/readyz` then answers 503 with the reason (handler, where it is
stuck, the last error), instead of "ready" while nothing flows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from territory.shared.events import MessagePosition


@dataclass(slots=True)
class _Stuck:
    since: float
    position: MessagePosition | None
    error: str | None = None


class ConsumerProgress:
    """Per handler: the batch in hand since when, and the last offsets processed."""

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._busy: dict[str, _Stuck] = {}
        self.processed: dict[tuple[str, int], int] = {}  # (topic, partition) → last offset
        self.last_progress: dict[str, float] = {}

    def begin(self, handler: str, positions: Sequence[MessagePosition]) -> None:
        """A batch is in hand (a redelivered one keeps the time it was first taken)."""
        if handler not in self._busy:
            self._busy[handler] = _Stuck(self.clock(), positions[0] if positions else None)

    def failed(self, handler: str, exc: BaseException) -> None:
        stuck = self._busy.get(handler)
        if stuck is not None:
            stuck.error = f"{type(exc).__name__}: {exc}"[:300]

    def done(self, handler: str, positions: Sequence[MessagePosition]) -> None:
        self._busy.pop(handler, None)
        self.last_progress[handler] = self.clock()
        for p in positions:
            key = (p.topic, p.partition)
            self.processed[key] = max(self.processed.get(key, -1), p.offset)

    def stalled(self) -> dict[str, str]:
        """handler → why it is stuck, for those stuck longer than the window."""
        now = self.clock()
        out = {}
        for handler, stuck in self._busy.items():
            if now - stuck.since <= self.window:
                continue
            where = (
                f" at {stuck.position.topic}[{stuck.position.partition}]@{stuck.position.offset}"
                if stuck.position
                else ""
            )
            why = f"; last error {stuck.error}" if stuck.error else ""
            out[handler] = f"no progress for {now - stuck.since:.0f}s{where}{why}"
        return out

    async def ready(self) -> bool:
        return not self.stalled()
