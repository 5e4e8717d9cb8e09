"""Each process of each deployment starts: its settings model is built from exactly the
environment that docker compose or a kustomize overlay gives it, and what it runs is a
real entry point of the image it runs in.

A settings model that raises is a container that exits on start (the API refusing the
missing TERRITORY_AUTH__* under `docker compose up` was one); here it is a failed test.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from pydantic import ValidationError

from territory.api.settings import ApiSettings
from territory.dedupe.settings import DedupeSettings
from territory.ingestion.settings import IngestionSettings
from territory.loader.settings import LoaderSettings
from territory.rules.settings import RulesSettings
from territory.shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {
    "api": ApiSettings,
    "ingestion": IngestionSettings,
    "dedupe": DedupeSettings,
    "rules": RulesSettings,
    "loader": LoaderSettings,
}
# The model each `territory` command loads (see the commands in */cli.py).
COMMAND_SETTINGS = {
    ("topics", "create"): ServiceSettings,
    ("warehouse", "migrate"): LoaderSettings,
    ("rules", "reassign"): RulesSettings,
}
IMAGE_CMD_MODULE = "territory.{service}"  # the Dockerfile's CMD: python -m territory.$SERVICE


@pytest.fixture(scope="module")
def cli() -> Any:
    """The real `territory` command with every installed plugin, as click sees it."""
    from territory.shared import cli as host

    host._load_plugins()
    group = typer.main.get_command(host.app)
    assert "topics" in group.commands
    return group


def plugin_distributions() -> dict[str, str]:
    """`territory` subcommand group -> the distribution that installs it."""
    return {ep.name: ep.dist.name for ep in entry_points(group="territory.cli") if ep.dist}


def resolve(cli: Any, argv: list[str]) -> Any:
    """The command `territory ARGV...` runs (a group has `commands`, a command has not)."""
    command = cli
    for word in argv:
        if not hasattr(command, "commands"):
            break
        assert word in command.commands, f"`territory {' '.join(argv)}`: no {word!r}"
        command = command.commands[word]
    assert not hasattr(command, "commands"), f"`territory {' '.join(argv)}` is a group"
    return command


def check_entry_point(cli: Any, service: str, command: list[str] | None) -> type:
    """The settings model the container loads; fails when its command does not exist in
    the image of `service` (which installs territory-<service> and territory-shared)."""
    if not command:
        module = IMAGE_CMD_MODULE.format(service=service)
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module
        return SETTINGS[service]
    assert command[0] == "territory", command
    resolve(cli, command[1:])
    group = command[1]
    dist = plugin_distributions().get(group, "territory-shared")
    assert dist in ("territory-shared", f"territory-{service}"), (
        f"`territory {group}` comes with {dist}, which the {service} image does not install"
    )
    return COMMAND_SETTINGS[(command[1], command[2])]


# --- docker compose -------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_services(support) -> dict[str, dict]:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return support.interpolate_tree(raw, support.filled_dotenv())["services"]


def compose_env(support, svc: dict) -> dict[str, str]:
    """Image ENV, then the service's `environment` (compose has no env_file here)."""
    assert "env_file" not in svc
    env = support.service_image_env(svc["build"]["args"]["SERVICE"])
    env.update({k: str(v) for k, v in svc.get("environment", {}).items()})
    return env


def python_services(services: dict[str, dict]) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in services.items()
        if svc.get("build", {}).get("dockerfile") == "Dockerfile"
    }


def test_every_compose_process_builds_its_settings_from_its_environment(
    compose_services, support, settings_from, cli
):
    seen = set()
    for name, svc in python_services(compose_services).items():
        image_service = svc["build"]["args"]["SERVICE"]
        cls = check_entry_point(cli, image_service, svc.get("command"))
        settings = settings_from(cls, compose_env(support, svc))
        seen.add(name)
        assert settings.environment == "production", name
        host, _, port = settings.kafka.bootstrap_servers.partition(":")
        assert host in compose_services, f"{name}: Kafka at {host}, not a compose service"
        assert port == "9092"
        if cls in (LoaderSettings, ApiSettings):
            url = urlsplit(settings.warehouse_url)
            assert url.hostname == "postgres", name
            assert url.password, f"{name}: the warehouse password is not passed"
        if name in SETTINGS:
            options = getattr(settings, name)
            assert options.host == "0.0.0.0", f"{name} listens on loopback only"
            probe = " ".join(svc["healthcheck"]["test"])
            assert f"127.0.0.1:{options.port}/" in probe, f"{name}: health check on another port"
    assert seen >= set(SETTINGS) | {"topics", "migrate"}


def test_compose_gives_the_api_real_auth_and_the_way_to_rules(
    compose_services, support, settings_from
):
    env = compose_env(support, compose_services["api"])
    settings = settings_from(ApiSettings, env)
    assert settings.auth.issuer != "territory-dev"
    assert len(settings.auth.signing_key.get_secret_value()) >= 32
    rules = urlsplit(settings.api.rules_url)
    assert rules.hostname == "rules"
    rules_settings = settings_from(RulesSettings, compose_env(support, compose_services["rules"]))
    assert rules.port == rules_settings.rules.port
    # The frontend proxies to the port the API listens on.
    upstream = compose_services["frontend"]["environment"]["API_UPSTREAM"]
    assert upstream == f"api:{settings.api.port}"


def test_the_api_refuses_to_start_without_auth_settings(compose_services, support, settings_from):
    """What `docker compose up` did before TERRITORY_AUTH__* were passed: the check above
    would have caught it."""
    env = compose_env(support, compose_services["api"])
    bare = {k: v for k, v in env.items() if not k.startswith("TERRITORY_AUTH__")}
    with pytest.raises(ValidationError, match="TERRITORY_AUTH__"):
        settings_from(ApiSettings, bare)


def test_the_ingestion_archive_goes_to_the_compose_bucket(compose_services, support, settings_from):
    env = compose_env(support, compose_services["ingestion"])
    settings = settings_from(IngestionSettings, env)
    bucket = compose_services["bucket"]["environment"]["BUCKET"]
    assert settings.archive.s3_bucket == bucket
    assert urlsplit(settings.archive.s3_endpoint_url).hostname == "minio"
    assert env["AWS_ACCESS_KEY_ID"] == compose_services["minio"]["environment"]["MINIO_ROOT_USER"]
    assert settings.ingestion.spool_dir in {
        v.split(":")[1] for v in compose_services["ingestion"]["volumes"]
    }, "uploads must spool to the volume, not to RAM"


def test_the_rules_service_reads_the_mounted_ruleset(compose_services, support, settings_from):
    svc = compose_services["rules"]
    settings = settings_from(RulesSettings, compose_env(support, svc))
    mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
    source = mounts[str(settings.rules.initial_ruleset)]
    assert (ROOT / source).is_file(), source


# --- kubernetes -----------------------------------------------------------------------


def our_containers(support, docs):
    for workload, pod in support.pod_specs(docs):
        for container in pod["containers"]:
            image = container["image"]
            if support.IMAGE_REPO in image and "/frontend" not in image:
                service = image.split(support.IMAGE_REPO)[1].split(":")[0]
                yield workload, pod, container, service


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_every_pod_builds_its_settings_from_its_environment(
    overlays, overlay, support, settings_from, cli
):
    docs = overlays[overlay]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    seen = set()
    for workload, pod, container, service in our_containers(support, docs):
        name = workload["metadata"]["name"]
        cls = check_entry_point(cli, service, container.get("command"))
        env = support.container_env(container, docs, support.PRODUCTION_SECRETS)
        settings = settings_from(cls, env)
        seen.add(name)
        expected = "development" if overlay == "local" else "production"
        assert settings.environment == expected, name
        assert settings.kafka.bootstrap_servers, name
        if workload["kind"] == "Deployment":
            assert name == service, f"Deployment {name} runs the {service} image"
            options = getattr(settings, service)
            assert options.host == "0.0.0.0", f"{name} listens on loopback only"
            port = next(p for p in container["ports"] if p["name"] == "http")
            assert port["containerPort"] == options.port, f"{name}: container port"
            assert services[name]["spec"]["ports"][0]["port"] == options.port, f"{name}: Service"
        if cls is IngestionSettings:
            # Uploads (up to 10 GiB) spool to a scratch volume, not to memory or the root.
            mount = next(
                m
                for m in container["volumeMounts"]
                if m["mountPath"] == settings.ingestion.spool_dir
            )
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            assert volume["emptyDir"].get("sizeLimit"), "the spool volume needs a size limit"
        if cls in (LoaderSettings, ApiSettings):
            assert urlsplit(settings.warehouse_url).scheme in (
                "snowflake",
                "postgresql+psycopg",
            ), name
    assert seen >= set(SETTINGS) | {"nightly-reassignment"}


def test_production_api_verifies_tokens_with_the_oidc_provider(overlays, support, settings_from):
    docs = overlays["production"]
    api = next(
        c
        for w, _p, c, s in our_containers(support, docs)
        if s == "api" and w["kind"] == "Deployment"
    )
    settings = settings_from(
        ApiSettings, support.container_env(api, docs, support.PRODUCTION_SECRETS)
    )
    assert (
        settings.auth.jwks_url
        == support.PRODUCTION_SECRETS["territory-oidc"]["TERRITORY_AUTH__JWKS_URL"]
    )
    assert settings.auth.algorithms == ["RS256"]
    assert settings.docs_enabled is False
    rules = urlsplit(settings.api.rules_url)
    assert rules.hostname == "rules"
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert rules.port == services["rules"]["spec"]["ports"][0]["port"]
    frontend = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "frontend"
    )
    env = {
        e["name"]: e["value"] for e in frontend["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["API_UPSTREAM"] == f"api:{services['api']['spec']['ports'][0]['port']}"
    assert services["api"]["spec"]["ports"][0]["port"] == settings.api.port


def test_production_api_without_its_oidc_secret_does_not_start(overlays, support, settings_from):
    docs = overlays["production"]
    api = next(
        c
        for w, _p, c, s in our_containers(support, docs)
        if s == "api" and w["kind"] == "Deployment"
    )
    partial = {
        **support.PRODUCTION_SECRETS,
        "territory-oidc": {"TERRITORY_AUTH__ISSUER": "https://login.example.com/"},
    }
    with pytest.raises(ValidationError, match="signing key"):
        settings_from(ApiSettings, support.container_env(api, docs, partial))
    with pytest.raises(AssertionError, match="territory-oidc"):
        support.container_env(api, docs, {**support.PRODUCTION_SECRETS, "territory-oidc": {}})


def test_the_ruleset_configmap_is_the_sample_and_what_rules_reads(overlays, support, settings_from):
    from territory.rules.ruleset import load_ruleset

    base = ROOT / "deploy" / "k8s" / "base" / "ruleset.yaml"
    assert base.read_text() == (ROOT / "data" / "sample" / "ruleset.yaml").read_text(), (
        "deploy/k8s/base/ruleset.yaml must be a copy of data/sample/ruleset.yaml"
    )
    for docs in overlays.values():
        rules = next(
            d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "rules"
        )
        pod = rules["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = support.container_env(container, docs, support.PRODUCTION_SECRETS)
        path = str(settings_from(RulesSettings, env).rules.initial_ruleset)
        mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        configmap = next(
            d
            for d in docs
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["configMap"]["name"]
        )
        key = path.removeprefix(mount["mountPath"] + "/")
        assert key in configmap["data"], f"{path} is not in {configmap['metadata']['name']}"
        assert load_ruleset(base).version == yaml.safe_load(configmap["data"][key])["version"]


def test_entry_point_checks_catch_a_wrong_command(cli):
    with pytest.raises(AssertionError, match="no 'reasign'"):
        check_entry_point(cli, "rules", ["territory", "rules", "reasign"])
    with pytest.raises(AssertionError, match="does not install"):
        check_entry_point(cli, "api", ["territory", "warehouse", "migrate"])


def test_the_compose_oidc_override_makes_the_api_verify_with_the_provider(support, settings_from):
    text = (ROOT / "deploy" / "compose" / "oidc.yml").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in support.compose_variables(text):
        assert f"{name}=" in example, f"{name} is not documented in .env.example"
    dotenv = {
        **support.filled_dotenv(),
        "TERRITORY_AUTH__ISSUER": "https://login.example.com/",
        "TERRITORY_AUTH__JWKS_URL": "https://login.example.com/.well-known/jwks.json",
    }
    base = support.interpolate_tree(
        yaml.safe_load((ROOT / "docker-compose.yml").read_text()), dotenv
    )
    override = support.interpolate_tree(yaml.safe_load(text), dotenv)
    api = base["services"]["api"]
    # Compose merges `environment` maps key by key.
    api["environment"] = {**api["environment"], **override["services"]["api"]["environment"]}
    settings = settings_from(ApiSettings, compose_env(support, api))
    assert settings.auth.jwks_url == dotenv["TERRITORY_AUTH__JWKS_URL"]
    assert settings.auth.algorithms == ["RS256"]
    with pytest.raises(support.MissingVariable, match="TERRITORY_AUTH__JWKS_URL"):
        support.interpolate(text, support.filled_dotenv())
