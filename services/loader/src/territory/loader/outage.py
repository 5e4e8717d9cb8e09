"""Is a failure an outage (retry the batch, commit nothing) or a refusal (dead letter)?

Decided by exception type: a connection that cannot be made or was lost, a timeout, or a
store that says "not now" (throttling, 5xx) is an outage; a permission or data error is
not, because retrying it forever would stall the stream without ever succeeding.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# S3 error codes that say "try again later", not "you may not" or "this is wrong".
TRANSIENT_S3_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
    }
)


def is_outage(exc: BaseException) -> bool:
    """Infrastructure failures (retry the batch) as opposed to data errors (dead letter)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    # botocore's EndpointConnectionError, ConnectTimeoutError (ConnectionError),
    # ReadTimeoutError, ConnectionClosedError (HTTPClientError); aiobotocore raises these.
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.get("Code") in TRANSIENT_S3_CODES or int(status) >= 500
    return isinstance(exc, OSError | TimeoutError)
