"""Pure ASGI middleware: request size limit, rate limit, request metrics.

Pure ASGI (not `BaseHTTPMiddleware`) so a streamed body is counted as it arrives and no
extra task is spawned per request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from territory.shared.kernel import problem

REQUESTS = Counter("territory_api_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "territory_api_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED = Counter("territory_api_rate_limited_total", "Requests refused with 429")


async def _send_problem(
    send: Send, status: int, title: str, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    response = problem(
        status, detail, title=title, headers={k.decode(): v.decode() for k, v in headers}
    )
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class BodySizeLimit:
    """413 for a body over `max_bytes`, whether announced (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await _send_problem(send, 413, "Request too large", self._detail())
                    return
        received = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            # Over the limit: answer 413 now and tell the app the client went away, so it
            # stops reading (an exception here would be turned into a 400 by the framework).
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await _send_problem(send, 413, "Request too large", self._detail())
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; whatever the app answers is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracking_send)

    def _detail(self) -> str:
        return f"the request body exceeds {self.max_bytes} bytes"


class TokenBucketLimiter:
    """One token bucket per client key, in process.

    Why in process: one API process serves one replica behind an ingress, and the limit
    protects that process (and the warehouse behind it) from one noisy caller; it needs no
    extra service (Redis) to run locally. With N replicas the effective limit is N times
    the setting, which is stated in the docs. The table is bounded (LRU) so many distinct
    callers cannot grow memory without limit.
    """

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class RateLimit:
    """429 with Retry-After when a client exceeds its bucket. Ops probes are never limited."""

    EXEMPT = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, limiter: TokenBucketLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.EXEMPT):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        wait = self.limiter.take(key)
        if wait > 0:
            RATE_LIMITED.inc()
            retry = str(max(1, math.ceil(wait)))
            await _send_problem(
                send,
                429,
                "Too many requests",
                f"rate limit exceeded; retry in {retry} s",
                ((b"retry-after", retry.encode()),),
            )
            return
        await self.app(scope, receive, send)


class Metrics:
    """Request count and latency per route template (not per raw path: bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/metrics"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], name, str(status)).inc()
            LATENCY.labels(scope["method"], name).observe(time.perf_counter() - started)
