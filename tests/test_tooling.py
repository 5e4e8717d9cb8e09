"""The pre-commit hooks run exactly what `make lint types` runs, from the project's venv."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _make_commands(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}:", line))
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        commands.append(line.strip())
    return commands


def test_pre_commit_hooks_are_the_make_lint_and_types_commands() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {repo["repo"] for repo in config["repos"]} == {"local"}  # nothing downloaded
    assert all(hook["language"] == "system" for hook in hooks)
    entries = [hook["entry"] for hook in hooks]
    expected = _make_commands("lint") + _make_commands("types")
    assert expected, "the Makefile lost its lint/types targets"
    for command in expected:
        # `ruff check .` in make checks the tree; pre-commit passes the changed files.
        base = command.removesuffix(" .")
        assert base in entries, f"{command!r} has no pre-commit hook"
    mypy = next(hook for hook in hooks if hook["entry"] == ".venv/bin/mypy")
    assert mypy["pass_filenames"] is False  # mypy checks pyproject's file list, as make does


def test_pytest_refuses_undeclared_markers() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert "--strict-markers" in text
    assert re.search(r"^warn_unused_ignores = true$", text, re.M)


def test_a_restarted_service_appends_to_its_log(tmp_path: Path) -> None:
    """Issue 13: scripts/run.sh truncated a service's log when it restarted, wiping the
    crash evidence; it now starts services through scripts/start-logged.sh."""
    import subprocess

    assert "scripts/start-logged.sh" in (ROOT / "scripts" / "run.sh").read_text()
    log = tmp_path / "var" / "log" / "svc.log"
    script = str(ROOT / "scripts" / "start-logged.sh")
    for word in ("first-run-crashed", "second-run"):
        subprocess.run([script, str(log), "sh", "-c", f"echo {word}; echo oops >&2"], check=True)
    lines = log.read_text().splitlines()
    assert [line for line in lines if not line.startswith("=== ")] == [
        "first-run-crashed",
        "oops",
        "second-run",
        "oops",
    ]
    markers = [line for line in lines if line.startswith("=== ")]
    assert len(markers) == 2
    assert all(" start pid=" in m for m in markers)
