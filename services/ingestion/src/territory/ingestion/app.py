"""HTTP API of the ingestion service."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from territory.ingestion.files import FileFormat, detect_format, ingest_file, new_upload_id
from territory.ingestion.parsing import HeaderError, RawRow
from territory.ingestion.pipeline import BrokerUnavailable, IngestionReport
from territory.ingestion.runtime import Runtime, running
from territory.ingestion.settings import IngestionSettings
from territory.shared import collector
from territory.shared.events import FieldError, RejectReason
from territory.shared.kernel import http_service, problem, serving
from territory.shared.log import configure_logging
from territory.shared.ops import ReadinessCheck

log = logging.getLogger(__name__)

RECORDS = Counter("territory_ingestion_records_total", "Records ingested", ["outcome", "reason"])

# Uploads reach the disk in pieces of about this size, each written off the event loop.
SPOOL_WRITE_BYTES = 1024 * 1024


def _count(report: IngestionReport) -> None:
    RECORDS.labels("accepted", "").inc(report.accepted)
    for reason, n in report.rejected_by_reason.items():
        RECORDS.labels("rejected", reason).inc(n)


def create_app(settings: IngestionSettings) -> FastAPI:
    def runtime_of(request: Request) -> Runtime:
        runtime: Runtime = request.app.state.runtime
        return runtime

    def checks(request: Request) -> Sequence[tuple[str, ReadinessCheck]]:
        return [("broker", runtime_of(request).publisher.ready)]

    app = http_service(
        title="Territory Engine ingestion",
        description=(
            "Accepts client records from upstream CRMs as JSON or as CSV / JSONL files, "
            "validates them against the event contract and publishes them to Kafka: valid "
            "records to `client.received`, every invalid one to `client.rejected` with a "
            "machine-readable reason. Accepted + rejected always equals the records sent."
        ),
        lifespan=serving(lambda: running(settings), "runtime"),
        checks=checks,
        ready_summary="Ready when the broker answers",
    )

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), title="Request refused")

    @app.exception_handler(BrokerUnavailable)
    async def _broker_unavailable(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        # The broker's address is the operator's business: it is logged, not returned.
        log.warning(
            "answered 503: broker unavailable",
            extra={"bootstrap_servers": exc.bootstrap_servers, "detail": exc.detail},
        )
        retry_after = math.ceil(runtime_of(request).settings.ingestion.publish_timeout_seconds)
        return problem(
            503,
            f"the event broker is unavailable: {exc.acknowledged} of the {exc.total} records "
            "read were published (the first ones, in order); the others were not "
            "acknowledged. Retrying the whole request is safe.",
            title="Broker unavailable",
            headers={"Retry-After": str(retry_after)},
            published=exc.acknowledged,
            unacknowledged=exc.total - exc.acknowledged,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "see errors",
            title="Invalid request",
            errors=json.loads(json.dumps(exc.errors(), default=str)),
        )

    @app.post(
        "/v1/clients",
        response_model=IngestionReport,
        response_model_exclude_none=True,
        status_code=202,
        tags=["ingestion"],
        summary="Submit one client record or a JSON array of them",
    )
    async def post_clients(
        request: Request,
        source_system: Annotated[
            str | None, Query(description="Default for records without source_system.")
        ] = None,
    ) -> IngestionReport:
        runtime = runtime_of(request)
        limits = runtime.settings.ingestion
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limits.max_request_bytes:
                raise HTTPException(413, f"request body exceeds {limits.max_request_bytes} bytes")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"the body is not JSON: {exc}") from None
        items = data if isinstance(data, list) else [data]
        if len(items) > limits.max_records_per_request:
            raise HTTPException(
                413,
                f"{len(items)} records in one request; the limit is "
                f"{limits.max_records_per_request} (upload a file instead)",
            )
        rows = [_json_row(i, item) for i, item in enumerate(items)]
        report = await runtime.ingestor.ingest(
            rows,
            upload_id=new_upload_id(),
            original_format="json",
            defaults={"source_system": source_system} if source_system else None,
            keep_results=True,
        )
        _count(report)
        return report

    @app.post(
        "/v1/uploads",
        response_model=IngestionReport,
        response_model_exclude_none=True,
        status_code=202,
        tags=["ingestion"],
        summary="Stream a CSV or JSONL file of any size (request body is the file)",
        openapi_extra={
            "requestBody": {
                "content": {
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                    "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
                },
                "required": True,
            }
        },
    )
    async def upload(
        request: Request,
        filename: Annotated[str, Query(max_length=256)] = "upload.csv",
        format: Annotated[
            Literal["csv", "jsonl"] | None, Query(description="Default: from the filename.")
        ] = None,
        encoding: Annotated[str, Query(max_length=32)] = "utf-8",
        source_system: Annotated[str | None, Query(max_length=64)] = None,
    ) -> IngestionReport | JSONResponse:
        runtime = runtime_of(request)
        limits = runtime.settings.ingestion
        fmt: FileFormat = format or _format_from(request, filename)
        with tempfile.TemporaryDirectory(dir=limits.spool_dir) as tmp:
            path = Path(tmp) / "upload"
            size = 0
            pending = bytearray()
            with path.open("wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limits.max_upload_bytes:
                        raise HTTPException(413, f"upload exceeds {limits.max_upload_bytes} bytes")
                    pending.extend(chunk)
                    if len(pending) >= SPOOL_WRITE_BYTES:
                        await asyncio.to_thread(fh.write, bytes(pending))
                        pending.clear()
                await asyncio.to_thread(fh.write, bytes(pending))
            try:
                report = await ingest_file(
                    runtime,
                    path,
                    filename=filename,
                    fmt=fmt,
                    encoding=encoding,
                    source_system=source_system,
                )
            except HeaderError as exc:
                return problem(422, str(exc), title="File cannot be read")
        _count(report)
        return report

    return app


def _format_from(request: Request, filename: str) -> FileFormat:
    content_type = request.headers.get("content-type", "")
    if "ndjson" in content_type or "jsonl" in content_type:
        return "jsonl"
    if "csv" in content_type:
        return "csv"
    return detect_format(filename)


def _json_row(index: int, item: Any) -> RawRow:
    original = json.dumps(item, ensure_ascii=False, default=str).encode()
    if not isinstance(item, dict):
        return RawRow(
            row_number=index,
            original=original,
            reason=RejectReason.INVALID_JSON,
            errors=[FieldError(code="not_an_object", message="each record must be an object")],
        )
    return RawRow(row_number=index, original=original, data=item)


def main() -> None:  # pragma: no cover - process entry point
    import uvicorn

    from territory.shared.settings import load_settings

    settings = load_settings(IngestionSettings)
    configure_logging("ingestion", level=settings.log_level, json_lines=settings.log_json)
    collector.tune(settings.gc)
    uvicorn.run(
        create_app(settings),
        host=settings.ingestion.host,
        port=settings.ingestion.port,
        log_config=None,
    )
