"""docker-compose.yml, deploy/k8s and the Dockerfiles, validated offline.

Docker is not available on the machines that run these tests, so nothing is started: the
compose file is interpolated as Docker Compose does and checked against the Compose
specification (compose-spec's parser), each kustomize overlay is rendered with
`kubectl kustomize` and every manifest validated against the Kubernetes schemas
(kubernetes-validate), then the project's own conventions are checked: probes, limits,
non-root read-only containers, ports that agree everywhere, autoscaling within the
partition counts, disruption budgets and network policies.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import compose_spec
import kubernetes_validate
import pytest
import yaml

from territory.shared.topics import TOPIC_SPECS, Topic

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.30"
INFRA = {"kafka", "postgres", "minio", "bucket"}
ONE_SHOTS = {"topics", "migrate", "bucket"}
FRONTEND = "frontend"
CRDS = {"KafkaTopic"}
# Ports a workload may open towards: DNS, Kafka, PostgreSQL, HTTPS (Snowflake, S3, OIDC).
EGRESS_PORTS = {53, 9092, 5432, 443}


def service_packages() -> set[str]:
    return {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}


@pytest.fixture(scope="module")
def compose(support) -> dict:
    """docker-compose.yml as Docker Compose sees it with a complete `.env`."""
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return support.interpolate_tree(raw, support.filled_dotenv())


@pytest.fixture(scope="module")
def manifests(overlays) -> list[dict]:
    return overlays["production"]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def selects(selector: dict, labels: dict) -> bool:
    """NetworkPolicy / PDB label selector semantics (matchLabels, In, NotIn, Exists)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op = expr["key"], expr["operator"]
        if op == "In" and labels.get(key) not in expr["values"]:
            return False
        if op == "NotIn" and labels.get(key) in expr["values"]:
            return False
        if op == "Exists" and key not in labels:
            return False
    return True


# --- docker compose -------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(compose):
    # The parser does not resolve YAML merge keys (Docker Compose does): PyYAML did.
    spec = compose_spec.PyCompose.from_json(json.dumps(compose)).to_spec()
    assert set(spec.services) >= INFRA | service_packages() | {FRONTEND} | ONE_SHOTS


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
    services = compose["services"]
    for name in service_packages():
        svc = services.get(name)
        assert svc is not None, f"{name} is missing from docker-compose.yml"
        assert svc["build"]["args"]["SERVICE"] == name
        probe = " ".join(svc["healthcheck"]["test"])
        assert f"127.0.0.1:{ports[name]}/readyz" in probe, f"{name} health check port"
        assert svc["read_only"] is True
    for name, svc in services.items():
        if svc.get("build", {}).get("dockerfile") == "Dockerfile":
            assert svc["build"]["args"]["SERVICE"] in service_packages(), (
                f"{name} builds no package"
            )
        for dep, cond in svc.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dep in ONE_SHOTS else "service_healthy"
            assert cond["condition"] == wanted, f"{name} -> {dep}"
        if name in ONE_SHOTS:
            assert svc["restart"] == "no", name
        else:
            assert "healthcheck" in svc, f"{name} has no health check"
    # Every service waits for the topics; whatever reads the warehouse waits for migrate.
    for name in service_packages():
        assert "topics" in services[name]["depends_on"], name
    for name in ("api", "loader"):
        assert "migrate" in services[name]["depends_on"], name


def test_required_secrets_fail_loudly_when_unset(support):
    text = (ROOT / "docker-compose.yml").read_text()
    for var in (
        "TERRITORY_SECRET_KEY",
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "TERRITORY_AUTH__ISSUER",
        "TERRITORY_AUTH__SIGNING_KEY",
    ):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} must be required (${{VAR:?}})"
        # .env.example leaves it empty, so an unedited copy refuses to start.
        env = support.read_dotenv(ROOT / ".env.example")
        assert env[var] == "", f".env.example must not ship a value for {var}"
        with pytest.raises(support.MissingVariable, match=var):
            support.interpolate(text, {**support.filled_dotenv(), var: ""})


def test_env_example_documents_every_compose_variable(support):
    used = support.compose_variables((ROOT / "docker-compose.yml").read_text())
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = support.read_dotenv(ROOT / ".env.example")
    assert set(used) == set(documented), "docker-compose.yml and .env.example disagree"
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            # A comment above it, or above the group of variables it belongs to.
            j = i - 1
            while j >= 0 and lines[j] and not lines[j].startswith("#"):
                j -= 1
            assert j >= 0, f"{line.split('=')[0]} is not explained"
            assert lines[j].startswith("#"), f"{line.split('=')[0]} is not explained"
    optional = {name for name, op in used.items() if op in (":-", "-")}
    required = {name for name, op in used.items() if op in (":?", "?")}
    assert required
    assert optional
    for name in optional:
        assert documented[name], f"{name}: show its default in .env.example"


def test_compose_ports_are_published_for_the_public_services_only(compose):
    published = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"api", "ingestion", FRONTEND}


# --- kubernetes -----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_manifests_are_valid_kubernetes(overlays, overlay):
    docs = overlays[overlay]
    assert docs, overlay
    for doc in docs:
        if doc["kind"] in CRDS:
            continue  # validated against the CRD's shape in test_strimzi_topics_*
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_schema_validation_catches_mistakes(manifests):
    deployment = json.loads(json.dumps(next(d for d in manifests if d["kind"] == "Deployment")))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_every_workload_is_locked_down_probed_and_bounded(overlays, overlay, support):
    docs = overlays[overlay]
    deployments = by_kind(docs, "Deployment")
    assert service_packages() | {FRONTEND} <= set(deployments), "a service has no manifest"
    ours = [(w, pod) for w, pod in support.pod_specs(docs) if w["kind"] != "StatefulSet"]
    assert any(w["kind"] == "CronJob" for w, _ in ours)
    for workload, pod in ours:
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        mounts = set()
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {"requests", "limits"} <= set(container["resources"]), name
            mounts |= {m["mountPath"] for m in container.get("volumeMounts", [])}
        # A read-only root needs a writable /tmp (Python, nginx).
        assert "/tmp" in mounts, f"{name} has no writable /tmp"
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        tmp = next(
            m for c in pod["containers"] for m in c["volumeMounts"] if m["mountPath"] == "/tmp"
        )
        assert "emptyDir" in volumes[tmp["name"]], name
    for name, d in deployments.items():
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert d["metadata"]["namespace"] == "territory", name


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_stateful_engines_run_as_one_replica_replaced_not_rolled(overlays, overlay):
    """rules and dedupe hold every client in memory and need every partition: a second
    replica would decide against half the state (docs/architecture.md)."""
    docs = overlays[overlay]
    deployments = by_kind(docs, "Deployment")
    scaled = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(docs, "HorizontalPodAutoscaler").values()
    }
    for name in ("rules", "dedupe"):
        spec = deployments[name]["spec"]
        assert spec["replicas"] == 1, name
        assert spec["strategy"]["type"] == "Recreate", name
        assert name not in scaled, f"{name} must not be autoscaled"


def consumed_partitions() -> dict[str, int]:
    """Useful replicas per service: a group member beyond the largest partition count of
    what the service reads (or, for ingestion, writes to dedupe) gets nothing to do."""
    from territory.loader.decode import LOADED_TOPICS

    return {
        "loader": max(TOPIC_SPECS[t].partitions for t in LOADED_TOPICS),
        "ingestion": TOPIC_SPECS[Topic.CLIENT_RECEIVED].partitions,
        "api": max(spec.partitions for spec in TOPIC_SPECS.values()),
    }


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_stateless_services_autoscale_within_the_partition_counts(overlays, overlay):
    docs = overlays[overlay]
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]
        for h in by_kind(docs, "HorizontalPodAutoscaler").values()
    }
    bounds = consumed_partitions()
    assert set(hpas) == set(bounds)
    for name, spec in hpas.items():
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= bounds[name], name
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert spec["metrics"], name
    if overlay == "production":
        # The ceilings are the partition counts themselves, not something smaller by chance.
        assert {n: s["maxReplicas"] for n, s in hpas.items()} == bounds


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_disruption_budgets_keep_replicated_services_up_and_never_block_drains(overlays, overlay):
    docs = overlays[overlay]
    deployments = by_kind(docs, "Deployment")
    pdbs = list(by_kind(docs, "PodDisruptionBudget").values())
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        covering = [p["spec"] for p in pdbs if selects(p["spec"]["selector"], labels)]
        if name in ("rules", "dedupe"):
            # One replica: a budget could only forbid its eviction and block drains.
            assert covering == [], name
            continue
        assert len(covering) == 1, f"{name} needs one PodDisruptionBudget"
        budget = covering[0]
        if "minAvailable" in budget:
            assert budget["minAvailable"] < d["spec"]["replicas"], f"{name}: a drain would block"
        else:
            assert budget["maxUnavailable"] >= 1, name


def _policies(docs, labels, direction):
    return [
        p["spec"]
        for p in by_kind(docs, "NetworkPolicy").values()
        if direction in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], labels)
    ]


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_network_policies_expose_the_api_and_ingestion_only(overlays, overlay, support):
    docs = overlays[overlay]
    everything = [
        p for p in by_kind(docs, "NetworkPolicy").values() if p["spec"]["podSelector"] == {}
    ]
    assert any(
        set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in everything
    ), "no default deny"
    reachable_from_anywhere: set[str] = set()
    for workload, _pod in support.pod_specs(docs):
        labels = (
            workload["spec"].get("template") or workload["spec"]["jobTemplate"]["spec"]["template"]
        )["metadata"]["labels"]
        name = labels["app.kubernetes.io/name"]
        for spec in _policies(docs, labels, "Ingress"):
            for rule in spec.get("ingress", []):
                if not rule.get("from"):
                    reachable_from_anywhere.add(name)
        if workload["kind"] == "StatefulSet":
            continue  # the local overlay's Kafka and PostgreSQL
        for spec in _policies(docs, labels, "Egress"):
            for rule in spec.get("egress", []):
                ports = {p["port"] for p in rule.get("ports", [])}
                assert ports, f"{name}: an egress rule without ports opens everything"
                if rule.get("to"):
                    # In-namespace calls: frontend -> api, api -> rules.
                    targets = {
                        t["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                        for t in rule["to"]
                    }
                    allowed = [("frontend", {"api"}, {8000}), ("api", {"rules"}, {8003})]
                    assert (name, targets, ports) in allowed, (
                        f"{name} may not call {targets} on {ports}"
                    )
                else:
                    assert ports <= EGRESS_PORTS, f"{name} may reach {ports - EGRESS_PORTS}"
    assert reachable_from_anywhere == {"api", "ingestion", FRONTEND}


def test_network_policies_give_each_service_only_what_it_uses(manifests, support):
    """dedupe and rules talk to Kafka only; the warehouse is for the loader and the api."""
    reach: dict[str, set[int]] = {}
    for workload, _ in support.pod_specs(manifests):
        labels = (
            workload["spec"].get("template") or workload["spec"]["jobTemplate"]["spec"]["template"]
        )["metadata"]["labels"]
        name = labels["app.kubernetes.io/name"]
        reach[name] = {
            p["port"]
            for spec in _policies(manifests, labels, "Egress")
            for rule in spec.get("egress", [])
            for p in rule.get("ports", [])
        }
    assert reach["dedupe"] == reach["rules"] == reach["nightly-reassignment"] == {53, 9092}
    assert reach["ingestion"] == {53, 9092, 443}
    assert reach["loader"] == {53, 9092, 5432, 443}
    assert reach["api"] == {53, 9092, 5432, 443, 8003}
    assert reach["frontend"] == {53, 8000}


def test_no_secret_is_committed(overlays):
    assert by_kind(overlays["production"], "Secret") == {}
    for name, secret in by_kind(overlays["local"], "Secret").items():
        import base64

        for key, value in secret["data"].items():
            text = base64.b64decode(value).decode()
            # Only the public development defaults and the throwaway local database.
            assert text.startswith(("dev-only", "territory-")) or "territory-local@" in text, (
                name,
                key,
            )


def test_the_production_ingress_routes_to_the_public_services_only(manifests):
    services = by_kind(manifests, "Service")
    routed = set()
    for ingress in by_kind(manifests, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services[backend["name"]]
                names = {p.get("name") for p in service["spec"]["ports"]}
                assert backend["port"]["name"] in names, backend
                routed.add(backend["name"])
        hosts = {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
        assert hosts == {r["host"] for r in ingress["spec"]["rules"]}, "a host without TLS"
    assert routed == {"api", "ingestion", FRONTEND}


def test_stateful_engines_get_time_to_rebuild_before_probes_give_up(manifests, compose):
    """dedupe and rules open their port only after reading their state back from the
    topics; probes that give up sooner would restart them forever on a large state."""
    from territory.dedupe.settings import DedupeOptions

    rebuild = DedupeOptions().rebuild_timeout_seconds
    deployments = by_kind(manifests, "Deployment")
    for name in ("dedupe", "rules"):
        probe = deployments[name]["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
        assert probe["periodSeconds"] * probe["failureThreshold"] > rebuild, name
        start = compose["services"][name]["healthcheck"]["start_period"]
        assert int(start.rstrip("s")) >= rebuild, name
