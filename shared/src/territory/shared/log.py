"""JSON logging with a correlation id that follows one record through every service."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextmanager
def correlation(correlation_id: str | None) -> Iterator[None]:
    """Tag every log line in this block (and tasks it spawns) with the correlation id."""
    token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = _correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation_id.get() or "-"
        return True


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Configure the root logger once per process (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.addFilter(_CorrelationFilter())
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)s {service} [%(correlation_id)s] %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class RateLimitedLog:
    """Repeated errors logged at most once per `interval` seconds per key.

    An outage or a poison record that fails again and again must not flood the logs (a
    broker restart once produced ~125,000 lines in 22 s): the first occurrence is logged,
    then one line per interval and key, carrying how many were suppressed since.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None when this occurrence is suppressed; otherwise how many were since the last."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)

    def log(
        self,
        level: int,
        message: str,
        *,
        key: str | None = None,
        exc_info: bool = False,
        **extra: Any,
    ) -> bool:
        """Log `message` unless the same key was logged less than `interval` ago."""
        suppressed = self.allow(key or message)
        if suppressed is None:
            return False
        self.logger.log(
            level,
            message,
            exc_info=exc_info,
            extra={**extra, "suppressed_since_last": suppressed},
        )
        return True

    def warning(self, message: str, *, key: str | None = None, **extra: Any) -> bool:
        return self.log(logging.WARNING, message, key=key, **extra)

    def error(
        self, message: str, *, key: str | None = None, exc_info: bool = False, **extra: Any
    ) -> bool:
        return self.log(logging.ERROR, message, key=key, exc_info=exc_info, **extra)
