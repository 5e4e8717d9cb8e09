"""The service kernel: the one way a Territory Engine service is built.

- `ServiceKernel(settings, service)`: broker, publisher, dead letters and producer name of
  a consumer service; `@kernel.consumer(Topic..., group_id=...)` registers a typed, batched
  handler (`async def on_x(batch: Batch[SomeEvent]) -> Sequence[Event]`) whose return
  value is published; `kernel.app(...)` is the ASGI app (`/healthz`, `/readyz`, `/metrics`).
- `http_service(...)`: a FastAPI app with the same ops routes (`ops_router`) and `/metrics`.
- `problem(...)`: an `application/problem+json` response.
- `read_events(...)`: rebuild state from a topic, yielding validated events only.
- `producer_name(service)`: the `producer` of every event a process emits.
"""

from territory.shared.kernel.consumer import (
    Batch,
    Handler,
    Redeliver,
    ServiceKernel,
    dead_letter_id,
)
from territory.shared.kernel.http import PROBLEM, http_service, ops_router, problem, serving
from territory.shared.kernel.naming import producer_name
from territory.shared.kernel.progress import ConsumerProgress
from territory.shared.kernel.rebuild import read_events

__all__ = [
    "PROBLEM",
    "Batch",
    "ConsumerProgress",
    "Handler",
    "Redeliver",
    "ServiceKernel",
    "dead_letter_id",
    "http_service",
    "ops_router",
    "problem",
    "producer_name",
    "read_events",
    "serving",
]
