"""Generated deployment files stay generated: the environment reference of
docs/DEPLOYMENT.md (from the settings models) and the Strimzi topics (from TOPIC_SPECS).
The Strimzi resources are validated against a schema of the KafkaTopic CRD's shape
(kafka.strimzi.io/v1beta2), offline."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import yaml

from territory.shared.topics import TOPIC_SPECS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "DEPLOYMENT.md"

# The part of Strimzi's KafkaTopic CRD (v1beta2) these resources use, strictly.
KAFKA_TOPIC_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                # A Kubernetes object name (DNS-1123 subdomain).
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {
                    "type": "object",
                    "required": ["strimzi.io/cluster"],
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "spec": {
            "type": "object",
            "required": ["partitions", "replicas"],
            "additionalProperties": False,
            "properties": {
                "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
                },
            },
        },
    },
}


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_environment_reference_is_generated_from_the_settings_models():
    gen = load_script("gen_env_docs")
    doc = DOC.read_text()
    assert gen.updated(doc) == doc, "docs/DEPLOYMENT.md is out of date: run scripts/gen_env_docs.py"
    # Every variable of every model is there, nested ones included.
    for service, cls in gen.SERVICES.items():
        for setting in gen.settings_of(cls):
            assert f"| `{setting.env}` |" in doc, f"{service}: {setting.env}"
    assert "`TERRITORY_AUTH__JWKS_URL`" in doc
    assert "`TERRITORY_DEDUPE__ENGINE__THRESHOLDS__MERGE`" in doc


def test_the_environment_reference_notes_name_real_variables():
    gen = load_script("gen_env_docs")
    real = {s.env for cls in gen.SERVICES.values() for s in gen.settings_of(cls)}
    assert set(gen.NOTES) <= real, set(gen.NOTES) - real


def test_drift_in_the_environment_reference_is_detected():
    gen = load_script("gen_env_docs")
    doc = DOC.read_text().replace(
        "| `TERRITORY_LOADER__BATCH_SIZE` |", "| `TERRITORY_LOADER__BATCHSIZE` |"
    )
    assert gen.updated(doc) != doc


def test_the_strimzi_topics_are_generated_from_topic_specs():
    gen = load_script("gen_kafka_topics")
    assert gen.OUTPUT.read_text() == gen.render(), "run scripts/gen_kafka_topics.py"


def test_the_production_overlay_declares_every_topic_with_its_partitions(overlays):
    topics = [d for d in overlays["production"] if d["kind"] == "KafkaTopic"]
    declared = {t["spec"]["topicName"]: t["spec"] for t in topics}
    assert set(declared) == {t.value for t in TOPIC_SPECS}
    for topic, spec in TOPIC_SPECS.items():
        got = declared[topic.value]
        assert got["partitions"] == spec.partitions, topic
        policy = got["config"]["cleanup.policy"]
        assert policy == ("compact" if spec.compacted else "delete"), topic
        if not spec.compacted:
            # dedupe and rules rebuild from the topics: history is never deleted.
            assert got["config"]["retention.ms"] == -1, topic
        assert got["replicas"] > got["config"]["min.insync.replicas"] >= 2, topic
    for t in topics:
        jsonschema.validate(t, KAFKA_TOPIC_SCHEMA)
        # In the Kafka cluster's namespace, where the Topic Operator looks.
        assert t["metadata"]["namespace"] == "kafka"
    assert not [d for d in overlays["local"] if d["kind"] == "KafkaTopic"]


def test_the_strimzi_schema_catches_mistakes(overlays):
    topic = next(d for d in overlays["production"] if d["kind"] == "KafkaTopic")
    for broken in (
        {**topic, "spec": {**topic["spec"], "partitions": "six"}},
        {**topic, "spec": {**topic["spec"], "partiton": 6}},
        {**topic, "metadata": {"name": "client.received", "labels": {}}},
        {**topic, "apiVersion": "kafka.strimzi.io/v1alpha1"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(json.dumps(broken)), KAFKA_TOPIC_SCHEMA)


def test_the_guide_names_every_secret_key_and_compose_variable(overlays, support):
    doc = DOC.read_text()
    for _workload, pod in support.pod_specs(overlays["production"]):
        for container in pod["containers"]:
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert f"`{ref['name']}`" in doc, ref["name"]
                    assert f"`{ref['key']}`" in doc, ref["key"]
    for name in support.compose_variables((ROOT / "docker-compose.yml").read_text()):
        assert f"`{name}`" in doc, f"{name} is not in docs/DEPLOYMENT.md"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for volume in compose["volumes"]:
        assert f"`{volume}`" in doc, f"volume {volume} is not in docs/DEPLOYMENT.md"
    for path in sorted((ROOT / "deploy" / "snowflake").glob("*.sql")):
        assert path.name in doc, f"deploy/snowflake/{path.name} is not in the set-up order"
