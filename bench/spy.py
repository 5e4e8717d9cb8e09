"""Where each service's CPU goes under load: py-spy (PyPI, the `bench` group) attached to
running processes, its samples summed into two tables per process.

`Profiler(pids, workdir).start()` runs `py-spy record --nonblocking --full-filenames
--format raw` on every pid (the process is never paused; idle samples are left out, so
shares are of the time the process was on a CPU, its Python frames' view); `stop()` sends
each recorder SIGINT, which makes it write its file, and returns one `Profile` per process.

- *by code*: every sample's innermost frame (self time) grouped by where the code lives:
  a project module (`territory.dedupe.index`), a library (`pydantic`, `rapidfuzz`,
  `sqlalchemy`), or the standard library (`stdlib:asyncio`). Native code is charged to
  the Python frame that called it, as py-spy sees it without `--native` (which
  `--nonblocking` rules out): SQLite's work, called by SQLAlchemy's execute, is
  `sqlalchemy`; pydantic-core's Rust is `pydantic`;
- *project functions*: each project function's inclusive share (a sample counts once
  per function however deep the recursion), leaving out pass-throughs (`main`, the
  kernel's delivery wrappers: nearly all their samples in one project function they call).
"""

from __future__ import annotations

import itertools
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# "function (path:line)", the way py-spy's raw format writes a frame.
_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>.*?)(?::(?P<line>-?\d+))?\)$")
_SITE = re.compile(r"/(?:site|dist)-packages/(?P<pkg>[^/]+)")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<mod>[^/]+?)(?:\.py)?(?:/|$)")
# A project function with at least this share of its samples in one callee is a
# pass-through (`main`, the kernel's delivery wrappers): shown, they would fill the table.
PASS_THROUGH = 0.95


def py_spy() -> str | None:
    """The py-spy binary: the virtualenv's (the `bench` group) or one on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def where(path: str) -> str:
    """Where a frame's code lives: a project module, a library or the standard library."""
    if "/territory/" in path:
        rest = path.rsplit("/territory/", 1)[1].removesuffix(".py")
        return "territory." + rest.replace("/", ".").removesuffix(".__init__")
    if m := _SITE.search(path):
        pkg = m["pkg"].removesuffix(".py")
        return "pydantic" if pkg == "pydantic_core" else pkg
    if path.startswith("<frozen"):
        return "stdlib:" + path.removeprefix("<frozen ").rstrip(">").split(".")[0]
    if m := _STDLIB.search(path):
        return "stdlib:" + m["mod"]
    return path or "?"


def parse_frame(frame: str) -> tuple[str, str]:
    """(function, path) of one frame; a frame py-spy could not name keeps its text."""
    m = _FRAME.match(frame)
    return (m["func"], m["path"]) if m else (frame, "")


@dataclass
class Profile:
    """Samples of one process: self time by code location, inclusive per project function."""

    samples: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)
    # caller -> project function it called -> samples
    calls: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Profile:
        """py-spy's raw (collapsed) format: `frame;frame;…;innermost count` per line."""
        out = cls()
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [parse_frame(f) for f in stack.split(";") if f]
            # A frame py-spy could not name (` (2)`: no function, a bare number) is left
            # out; its time goes to the named frame that called it.
            frames = [f for f in frames if f[0] and ("/" in f[1] or f[1].startswith("<"))]
            if not frames:
                continue
            out.samples += n
            out.by_code[where(frames[-1][1])] += n
            own = [f"{func} ({where(path)})" for func, path in frames]
            own = [name for name in own if " (territory." in name]
            for name in set(own):
                out.functions[name] += n
            # Which project function each one called on this stack (once per caller, so a
            # recursion counts once), for `function_shares` to see pass-throughs.
            callee: dict[str, str] = {}
            for caller, called in itertools.pairwise(own):
                callee[caller] = called
            for caller, called in callee.items():
                if caller != called:
                    out.calls[caller][called] += n
        return out

    def code_shares(self, top: int = 10) -> list[tuple[str, float]]:
        return (
            [(k, n / self.samples) for k, n in self.by_code.most_common(top)]
            if self.samples
            else []
        )

    def function_shares(self, top: int = 12) -> list[tuple[str, float]]:
        """The busiest project functions, inclusive, without pass-throughs: a function
        that spends nearly all its samples (`PASS_THROUGH`) in one project function it
        calls (`main` → the consumer loop → the handler) says nothing its callee does not."""
        if not self.samples:
            return []
        rows = []
        for name, n in self.functions.most_common():
            called = self.calls.get(name)
            if called and called.most_common(1)[0][1] >= PASS_THROUGH * n:
                continue
            rows.append((name, n / self.samples))
        return rows[:top]


class Profiler:
    """py-spy on several processes at once, from `start()` to `stop()`."""

    def __init__(self, pids: Mapping[str, int], workdir: Path, *, rate: int = 50) -> None:
        self.pids = dict(pids)
        self.workdir = workdir
        self.rate = rate
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []
        self.error: str | None = None

    def start(self) -> Profiler:
        binary = py_spy()
        if binary is None:
            self.error = "py-spy is not installed (`uv sync --group bench` installs it)"
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            log = (self.workdir / f"{name}.err").open("wb")
            self.logs.append(log)
            self.procs[name] = subprocess.Popen(
                [
                    binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(self.rate),
                    "--nonblocking",
                    "--full-filenames",
                    "--format",
                    "raw",
                    "--output",
                    str(self.workdir / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return self

    def stop(self) -> dict[str, Profile]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        out: dict[str, Profile] = {}
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        for name in self.procs:
            path = self.workdir / f"{name}.txt"
            if path.exists():
                with path.open() as lines:
                    out[name] = Profile.parse(lines)
            else:
                err = (self.workdir / f"{name}.err").read_text(errors="replace")[-300:]
                self.error = f"py-spy wrote no profile for {name}: {err.strip()}"
        return out


def render(profiles: Mapping[str, Profile], *, top_code: int = 8, top_functions: int = 12) -> str:
    """One pair of tables per process, busiest first."""
    parts: list[str] = []
    for name, prof in sorted(profiles.items(), key=lambda kv: -kv[1].samples):
        if not prof.samples:
            parts.append(f"**{name}**: no samples (the process was idle throughout).")
            continue
        lines = [
            f"**{name}** ({prof.samples:,} samples on a CPU)",
            "",
            "| self time in | share |",
            "|---|---:|",
            *[f"| `{k}` | {s:.0%} |" for k, s in prof.code_shares(top_code)],
            "",
            "| project function (inclusive) | share |",
            "|---|---:|",
            *[f"| `{k}` | {s:.0%} |" for k, s in prof.function_shares(top_functions)],
        ]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
