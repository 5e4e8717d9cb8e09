"""Wiring: publisher (the kernel's broker), warehouse engine, token verifier and rules
client from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from territory.api.counting import CountCache
from territory.api.rules_client import RulesClient
from territory.api.security import TokenVerifier
from territory.api.settings import ApiSettings
from territory.api.warehouse import make_engine
from territory.shared.broker import Publisher
from territory.shared.kernel import ServiceKernel, producer_name
from territory.shared.topics import Topic

SERVICE = "api"


@dataclass
class Runtime:
    settings: ApiSettings
    publisher: Publisher
    engine: Engine
    verifier: TokenVerifier
    rules: RulesClient
    producer: str
    counts: CountCache


def build_kernel(settings: ApiSettings) -> ServiceKernel:
    kernel = ServiceKernel(settings, SERVICE)
    # Actions are events: rulesets, reviewers' dedupe decisions, reassignments, acks.
    kernel.publishes(Topic.RULESET_PUBLISHED, Topic.DEDUPE_COMMAND, Topic.RULES_COMMAND)
    return kernel


@asynccontextmanager
async def running(
    settings: ApiSettings, engine: Engine | None = None, *, publisher: Publisher | None = None
) -> AsyncIterator[Runtime]:
    """`publisher`: where actions go instead of the broker (tests that only read, or
    look at what was published, need no broker)."""
    async with AsyncExitStack() as stack:
        if publisher is None:
            kernel = build_kernel(settings)
            await kernel.ensure_topics()
            await kernel.broker.connect()
            stack.push_async_callback(kernel.broker.stop)
            publisher = kernel.publisher
        rules = RulesClient(settings.api.rules_url, settings.api.rules_timeout_seconds)
        stack.push_async_callback(rules.close)
        if engine is None:
            engine = make_engine(settings.warehouse_url, settings.api)
            stack.callback(engine.dispose)
        yield Runtime(
            settings=settings,
            publisher=publisher,
            engine=engine,
            verifier=TokenVerifier(settings.auth),
            rules=rules,
            producer=producer_name(SERVICE),
            counts=CountCache(settings.api.count_cache_seconds),
        )
