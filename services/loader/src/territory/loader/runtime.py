"""Wiring: the warehouse engine, the kernel (dead letters), the S3 stager and the loader."""

from __future__ import annotations

from sqlalchemy import Engine

from territory.loader.service import Loader
from territory.loader.settings import LoaderSettings
from territory.loader.staging import RawStager
from territory.shared.kernel import ServiceKernel
from territory.shared.warehouse.engine import backend_of, create_warehouse_engine

SERVICE = "loader"


def build_loader(
    settings: LoaderSettings, kernel: ServiceKernel, engine: Engine | None = None
) -> Loader:
    """The loader, registered as the kernel's consumer. Nothing here touches the network:
    connections open when the broker starts."""
    engine = engine or create_warehouse_engine(settings.warehouse_url)
    staging = settings.loader.staging
    stager = RawStager(staging) if backend_of(engine) == "snowflake" and staging.s3_bucket else None
    loader = Loader(settings, engine, kernel.dead_letters, stager=stager)
    loader.register(kernel)
    return loader


def build_kernel(settings: LoaderSettings) -> ServiceKernel:
    return ServiceKernel(settings, SERVICE)
