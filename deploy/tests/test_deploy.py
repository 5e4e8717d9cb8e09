"""docker-compose.yml, deploy/k8s and the Dockerfile, validated offline.

Docker is not available on the machines that run these tests, so nothing is started: the
compose file is checked against the Compose specification (compose-spec's parser), the
kustomization is built with `kubectl kustomize` and every manifest is validated against
the Kubernetes schemas (kubernetes-validate), then the project's own conventions are
checked: probes, limits, non-root read-only containers, ports that agree everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import compose_spec
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.30"
INFRA = {"kafka", "postgres"}


def service_packages() -> set[str]:
    return {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    if shutil.which("kubectl") is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is needed to build deploy/k8s (it ships with these machines)")
        pytest.skip("kubectl not installed: cannot build the kustomization")
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "k8s")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_compose_file_follows_the_compose_specification(compose):
    # The parser does not resolve YAML merge keys (Docker Compose does): resolve them first.
    spec = compose_spec.PyCompose.from_json(json.dumps(compose)).to_spec()
    assert set(spec.services) >= INFRA


def test_compose_validation_catches_mistakes(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["depends_on"]["kafka"]["condition"] = "when_ready"
    with pytest.raises(ValueError, match="service_healthy"):
        compose_spec.PyCompose.from_json(json.dumps(broken))


def test_every_service_package_is_in_compose_with_health_and_its_port(compose, manifests):
    ports = {
        d["metadata"]["name"]: d["spec"]["ports"][0]["port"]
        for d in manifests
        if d["kind"] == "Service"
    }
    for name in service_packages():
        svc = compose["services"].get(name)
        assert svc is not None, f"{name} is missing from docker-compose.yml"
        assert svc["build"]["args"]["SERVICE"] == name
        probe = " ".join(svc["healthcheck"]["test"])
        assert f"127.0.0.1:{ports[name]}/readyz" in probe, f"{name} health check port"
        assert svc["read_only"] is True
        for dep, cond in svc["depends_on"].items():
            assert cond["condition"] == "service_healthy", f"{name} -> {dep}"
    for name, svc in compose["services"].items():
        if name not in INFRA:
            assert name in service_packages(), f"compose builds {name}, which has no package"
        assert "healthcheck" in svc, f"{name} has no health check"


def test_required_secrets_fail_loudly_when_unset(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    for var in ("TERRITORY_SECRET_KEY", "POSTGRES_PASSWORD"):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} must be required (${{VAR:?}})"


def test_manifests_are_valid_kubernetes(manifests):
    for doc in manifests:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_schema_validation_catches_mistakes(manifests):
    deployment = json.loads(json.dumps(next(d for d in manifests if d["kind"] == "Deployment")))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_every_workload_is_locked_down_probed_and_bounded(manifests):
    deployments = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Deployment"}
    assert service_packages() <= set(deployments), "a service has no Kubernetes manifest"
    pods = [d["spec"]["template"]["spec"] for d in deployments.values()] + [
        d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        for d in manifests
        if d["kind"] == "CronJob"
    ]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert {"requests", "limits"} <= set(container["resources"])
    for name, d in deployments.items():
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert d["metadata"]["namespace"] == "territory", name


def test_dockerfile_installs_dependencies_of_every_service_before_the_code():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copies = [i for i, line in enumerate(lines) if line.startswith("COPY services/")]
    code = next(i for i, line in enumerate(lines) if line.strip() == "COPY services services")
    for name in service_packages():
        line = f"COPY services/{name}/pyproject.toml services/{name}/pyproject.toml"
        assert line in lines, f"Dockerfile does not copy {name}'s pyproject.toml"
        assert lines.index(line) < code
    assert copies, "no dependency layer"


def test_stateful_engines_run_as_one_replica_replaced_not_rolled(manifests):
    """rules and dedupe hold every client in memory and need every partition: a second
    replica would decide against half the state (docs/architecture.md)."""
    deployments = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Deployment"}
    for name in ("rules", "dedupe"):
        spec = deployments[name]["spec"]
        assert spec["replicas"] == 1, name
        assert spec["strategy"]["type"] == "Recreate", name
