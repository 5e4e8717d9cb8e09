"""A switchable TCP proxy: put it in front of the warehouse (PostgreSQL) and `down()` is an
outage, `up()` (same port) the warehouse coming back.

`TcpProxy` runs on the caller's event loop (in-process service tests); `ThreadedTcpProxy`
runs one on a thread of its own, for synchronous tests that drive services as processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any


class TcpProxy:
    """A switchable TCP proxy in front of a local port: `down()` is an outage."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        self.writers.clear()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class ThreadedTcpProxy:
    """`TcpProxy` on a private event loop thread, with blocking `up()` / `down()`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.proxy = TcpProxy(target_port, target_host)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.is_up = False

    @property
    def port(self) -> int:
        return self.proxy.port

    def _call(self, coro: Any) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def up(self) -> None:
        self._call(self.proxy.up())
        self.is_up = True

    def down(self) -> None:
        self._call(self.proxy.down())
        self.is_up = False

    def close(self) -> None:
        if self.is_up:
            self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
