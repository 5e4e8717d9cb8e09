"""The product as separate processes, driven from the outside.

A `Stack` runs each service as `python -m territory.<service>` with ports of its own, a topic
namespace of its own (`TERRITORY_KAFKA__TOPIC_PREFIX`), consumer groups of its own and a
warehouse URL of its own, exactly as `make run` / `scripts/run.sh` start them. It depends
only on what survives any rewrite of the services: entry points, `TERRITORY_*` environment
variables, `/readyz`, `/metrics`, the ingestion upload route and the `territory` CLI.

    with Stack(tmp_path) as stack:          # topics created, warehouse migrated
        stack.start()                       # every service, waits for /readyz
        stack.upload_csv(body)              # POST /v1/uploads
        stack.kill9("dedupe"); stack.restart("dedupe")

Logs are appended (never truncated) to `<workdir>/logs/<instance>.log`, with a marker line
at every start, so the evidence of a crash survives its restart.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("dedupe", "rules", "loader", "api", "ingestion")
# The consumer services and the environment variable naming each one's consumer group.
CONSUMERS = ("dedupe", "rules", "loader")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StackError(RuntimeError):
    """A service did not start, did not become ready, or a CLI step failed."""


@dataclass
class ServiceProcess:
    """One running instance of a service (`name` is the service, `instance` its label)."""

    name: str
    instance: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: list[float] = field(default_factory=list)  # monotonic times of kill -9
    pids: list[int] = field(default_factory=list)  # every pid this instance had

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.alive():
            return
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # append: a restart never wipes the evidence
            log.write(
                f"\n=== harness: start #{self.starts} of {self.instance} at "
                f"{time.strftime('%Y-%m-%dT%H:%M:%S')} ===\n".encode()
            )
            log.flush()
            self.proc = subprocess.Popen(
                [str(BIN / "python"), "-m", f"territory.{self.name}"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pids.append(self.proc.pid)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until `/readyz` answered 200; raises with the log's tail otherwise."""
        started = time.monotonic()
        while True:
            if not self.alive():
                raise StackError(f"{self.instance} exited:\n{self.log_tail()}")
            if self.ready():
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise StackError(
                    f"{self.instance} not ready in {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def kill9(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise StackError(f"{self.instance} is not running")
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills.append(time.monotonic())

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def metrics(self) -> dict[str, float]:
        """`/metrics` parsed into {'name{labels}': value} (empty when it does not answer)."""
        try:
            # FastAPI mounts it at /metrics/ (a redirect from /metrics).
            text = httpx.get(f"{self.url}/metrics", timeout=5, follow_redirects=True).text
        except httpx.HTTPError:
            return {}
        return parse_prometheus(text)


def parse_prometheus(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            continue
    return out


class Stack:
    """Every service of one isolated pipeline (own prefix, groups, ports, warehouse)."""

    def __init__(
        self,
        workdir: Path,
        *,
        bootstrap: str | None = None,
        warehouse_url: str | None = None,
        prefix: str | None = None,
        services: Iterable[str] = SERVICES,
        env: Mapping[str, str] | None = None,
        groups: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bootstrap = bootstrap or os.environ.get(
            "TERRITORY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092"
        )
        self.prefix = prefix or f"h-{uuid.uuid4().hex[:8]}."
        self.warehouse_url = warehouse_url or f"sqlite:///{self.workdir / 'warehouse.db'}"
        self.service_names = tuple(services)
        self.ports = {name: free_port() for name in SERVICES}
        self.groups = {name: f"{self.prefix}{name}" for name in CONSUMERS}
        self.groups.update(groups or {})
        self.env: dict[str, str] = {
            **os.environ,
            "TERRITORY_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "TERRITORY_KAFKA__TOPIC_PREFIX": self.prefix,
            "TERRITORY_WAREHOUSE_URL": self.warehouse_url,
            "TERRITORY_ARCHIVE__LOCAL_DIR": str(self.workdir / "archive"),
            "TERRITORY_API__RULES_URL": f"http://127.0.0.1:{self.ports['rules']}",
            "TERRITORY_LOG_JSON": "true",
            **{f"TERRITORY_{name.upper()}__PORT": str(port) for name, port in self.ports.items()},
            **{f"TERRITORY_{name.upper()}__GROUP_ID": g for name, g in self.groups.items()},
            **(env or {}),
        }
        self.instances: dict[str, ServiceProcess] = {
            name: self._instance(name, name, self.ports[name]) for name in self.service_names
        }
        # Services run in sessions of their own (a signal to the caller does not reach them):
        # make sure an interpreter that exits without `stop()` still takes them down.
        atexit.register(self.stop)

    # -- set-up ----------------------------------------------------------------------------

    def _instance(self, name: str, instance: str, port: int) -> ServiceProcess:
        env = {**self.env, f"TERRITORY_{name.upper()}__PORT": str(port)}
        return ServiceProcess(name, instance, port, env, self.workdir / "logs" / f"{instance}.log")

    def cli(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run the `territory` CLI with this stack's environment; returns stdout."""
        done = subprocess.run(
            [str(BIN / "territory"), *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise StackError(f"territory {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        """Create the topics and migrate the warehouse (what `make run` does first)."""
        self.cli("topics", "create")
        self.cli("warehouse", "migrate")

    # -- processes -------------------------------------------------------------------------

    def __getitem__(self, instance: str) -> ServiceProcess:
        return self.instances[instance]

    def url(self, instance: str) -> str:
        return self.instances[instance].url

    def start(self, names: Iterable[str] | None = None, *, timeout: float = 180.0) -> None:
        chosen = list(names) if names is not None else list(self.instances)
        for name in chosen:
            self.instances[name].start()
        for name in chosen:
            self.instances[name].wait_ready(timeout)

    def kill9(self, instance: str) -> None:
        self.instances[instance].kill9()

    def restart(self, instance: str, *, timeout: float = 180.0) -> float:
        """Start a (killed or stopped) instance again; seconds until it is ready."""
        started = time.monotonic()
        self.instances[instance].start()
        self.instances[instance].wait_ready(timeout)
        return time.monotonic() - started

    def add_instance(self, name: str, *, timeout: float = 180.0) -> ServiceProcess:
        """Start one more instance of a consumer service in the same consumer group."""
        n = sum(1 for p in self.instances.values() if p.name == name) + 1
        proc = self._instance(name, f"{name}-{n}", free_port())
        self.instances[proc.instance] = proc
        proc.start()
        proc.wait_ready(timeout)
        return proc

    def regroup(self, service: str, group: str) -> None:
        """Give a consumer service a new consumer group (takes effect at its next start):
        a fresh group reads every topic from the beginning, i.e. a replay."""
        self.groups[service] = group
        var = f"TERRITORY_{service.upper()}__GROUP_ID"
        self.env[var] = group
        for proc in self.instances.values():
            if proc.name == service:
                proc.env[var] = group

    def stop(self, names: Iterable[str] | None = None) -> None:
        for name in list(names) if names is not None else list(self.instances):
            self.instances[name].stop()

    def pids(self) -> dict[str, int]:
        return {i: p.pid for i, p in self.instances.items() if p.alive() and p.pid is not None}

    def __enter__(self) -> Stack:
        self.prepare()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the product's own front doors ---------------------------------------------------

    def upload_csv(self, body: bytes, filename: str = "clients.csv", timeout: float = 600) -> Any:
        """POST /v1/uploads; returns the ingestion report (raises on a non-202)."""
        response = httpx.post(
            f"{self.url('ingestion')}/v1/uploads",
            params={"filename": filename},
            content=body,
            headers={"content-type": "text/csv"},
            timeout=timeout,
        )
        if response.status_code != 202:
            raise StackError(f"upload answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def token(self, role: str, region: str | None = None) -> str:
        extra = ["--region", region] if region else []
        return self.cli("token", "--role", role, *extra).strip()

    def api_get(self, path: str, token: str, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.url('api')}/api/{path.lstrip('/')}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def topic(self, canonical: str) -> str:
        """The full topic name of a canonical one (`client.received` → `<prefix>client.received`)."""
        return f"{self.prefix}{canonical}"

    def logs(self) -> dict[str, Path]:
        return {i: p.log_path for i, p in self.instances.items()}
