"""Every error is `application/problem+json` (RFC 9457) and never carries a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from territory.api.security import AuthError
from territory.shared.kernel import PROBLEM
from territory.shared.kernel import problem as kernel_problem

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return kernel_problem(
        status, detail, title=title or _TITLES.get(status, "Error"), headers=headers, **extra
    )


class ApiProblem(Exception):
    """Raised by routes and adapters; rendered as a problem."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="territory", error="invalid_token"'}

# Documented on every protected route, so clients (and schemathesis) know the shapes.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM: {}}, "description": _TITLES[status]}
    for status in (400, 401, 403, 404, 413, 422, 429, 503)
}


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.detail, headers=exc.headers)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        return problem(401, exc.detail, headers=UNAUTHORIZED_HEADERS)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return problem(422, "the request does not match the API's schema", errors=errors)

    @app.exception_handler(SQLAlchemyError)
    async def _warehouse(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Unreachable, locked, or not migrated yet (the loader creates the tables): the
        # caller may retry; operators get the detail in the log.
        log.error("warehouse error on %s %s: %s", request.method, request.url.path, exc)
        return problem(
            503, "the warehouse is not available; retry later", headers={"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its trace for operators; the caller gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "an unexpected error occurred; it has been logged")
