"""Outage (retry the batch, commit nothing) or refusal (dead letter), by exception type."""

import sqlite3

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from territory.loader.outage import is_outage


def s3_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://s3.local"),
        ConnectTimeoutError(endpoint_url="http://s3.local"),
        ReadTimeoutError(endpoint_url="http://s3.local"),
        s3_error("SlowDown", 503),
        s3_error("InternalError", 500),
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
        InterfaceError("SELECT 1", {}, Exception("connection already closed")),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ],
    ids=type,
)
def test_unreachable_or_overloaded_stores_are_outages(exc):
    assert is_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        # A permission error is not transient: retried forever it would stall the stream.
        s3_error("AccessDenied", 403),
        s3_error("NoSuchBucket", 404),
        s3_error("InvalidAccessKeyId", 403),
        NoCredentialsError(),
        IntegrityError("INSERT", {}, sqlite3.IntegrityError("NOT NULL constraint failed")),
        ValueError("bad value"),
    ],
    ids=lambda e: getattr(e, "response", {}).get("Error", {}).get("Code") or type(e).__name__,
)
def test_permission_and_data_errors_are_not_outages(exc):
    assert not is_outage(exc)
