"""The images, checked without a Docker engine: what the Dockerfiles copy exists in the
build context (and is not excluded by .dockerignore), the health check asks the port each
service listens on, and the dashboard's nginx configuration parses with nginx itself
(`nginx -t`, Debian's package; scripts/test-tools.sh installs it) and sends /api to the
port of the API."""

from __future__ import annotations

import fnmatch
import glob
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from territory.api.settings import ApiSettings
from territory.dedupe.settings import DedupeSettings
from territory.ingestion.settings import IngestionSettings
from territory.loader.settings import LoaderSettings
from territory.rules.settings import RulesSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "deploy" / "frontend" / "Dockerfile"]
NGINX_TEMPLATE = ROOT / "deploy" / "frontend" / "nginx.conf"
SETTINGS = {
    "api": ApiSettings,
    "ingestion": IngestionSettings,
    "dedupe": DedupeSettings,
    "rules": RulesSettings,
    "loader": LoaderSettings,
}


def service_packages() -> set[str]:
    return {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore matching (Go filepath.Match plus `**`), enough for ours:
    a path is excluded when it or one of its parent folders matches a pattern."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        regex = fnmatch.translate(pattern).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        regex = regex.replace(r"[^/]*/", "(?:.*/)?") if pattern.startswith("**/") else regex
        if any(re.match(regex, p) for p in prefixes):
            return True
    return False


def copies(dockerfile: Path, support) -> list[list[str]]:
    """Sources of each COPY from the build context (not `--from=` another stage)."""
    out = []
    for instruction, args in support.dockerfile_instructions(dockerfile):
        if instruction != "COPY":
            continue
        words = shlex.split(args)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        out.append(words[:-1])
    return out


def test_dockerfile_installs_dependencies_of_every_service_before_the_code():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copied = [i for i, line in enumerate(lines) if line.startswith("COPY services/")]
    code = next(i for i, line in enumerate(lines) if line.strip() == "COPY services services")
    for name in service_packages():
        line = f"COPY services/{name}/pyproject.toml services/{name}/pyproject.toml"
        assert line in lines, f"Dockerfile does not copy {name}'s pyproject.toml"
        assert lines.index(line) < code
    assert copied, "no dependency layer"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_copy_source_exists_in_the_build_context(dockerfile, support):
    patterns = dockerignore()
    sources = [s for group in copies(dockerfile, support) for s in group]
    assert sources
    for source in sources:
        matches = glob.glob(str(ROOT / source))
        assert matches, f"{dockerfile.name}: COPY {source}: no such file in the context"
        assert not ignored(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"


def test_the_frontend_image_installs_its_locked_dependencies_before_its_sources(support):
    steps = support.dockerfile_instructions(ROOT / "deploy" / "frontend" / "Dockerfile")
    text = [f"{i} {a}" for i, a in steps]
    lock = text.index("COPY frontend/package.json frontend/package-lock.json ./")
    ci = next(i for i, t in enumerate(text) if t.startswith("RUN npm ci"))
    sources = text.index("COPY frontend/ ./")
    build = text.index("RUN npm run build")
    assert lock < ci < sources < build
    assert (
        "build"
        in __import__("json").loads((ROOT / "frontend" / "package.json").read_text())["scripts"]
    )
    final = [t for t in text[build:] if t.startswith("COPY --from=build")]
    assert final == ["COPY --from=build /frontend/dist /usr/share/nginx/html"]


def test_dockerignore_keeps_local_state_and_build_output_out():
    patterns = dockerignore()
    for path in (
        ".venv/bin/python",
        "var/warehouse.db",
        ".cache/kafka/x",
        "frontend/node_modules/react/index.js",
        "frontend/dist/index.html",
        "services/api/__pycache__/x.pyc",
        ".env",
    ):
        assert ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    for path in (
        "services/api/pyproject.toml",
        "frontend/package.json",
        "frontend/src/main.tsx",
        "deploy/frontend/nginx.conf",
        "uv.lock",
    ):
        assert not ignored(path, patterns), f"{path} is needed by a build"


def test_the_service_image_runs_the_module_of_its_service(support):
    """The Deployments and compose services run the image's CMD; deploy/tests checks
    that `territory.<service>.__main__` exists, and this that the CMD is that module."""
    steps = support.dockerfile_instructions(ROOT / "Dockerfile")
    cmd = json.loads(next(a for ins, a in reversed(steps) if ins == "CMD"))
    assert cmd == ["sh", "-c", "exec python -m territory.${SERVICE}"]
    env = support.service_image_env("rules")
    assert env["SERVICE"] == "rules"
    assert env["TERRITORY_ENVIRONMENT"] == "production"


def test_the_images_run_unprivileged_and_check_their_health(support):
    for dockerfile in DOCKERFILES:
        steps = support.dockerfile_instructions(dockerfile)
        final = steps[max(i for i, (ins, _) in enumerate(steps) if ins == "FROM") :]
        users = [a for ins, a in final if ins == "USER"]
        assert users, f"{dockerfile}: runs as root"
        assert users[-1].split(":")[0] not in ("root", "0"), dockerfile
        assert any(ins == "HEALTHCHECK" for ins, _ in final), f"{dockerfile}: no HEALTHCHECK"


def load_healthcheck():
    spec = importlib.util.spec_from_file_location(
        "healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_image_health_check_asks_each_service_on_its_own_port(settings_from):
    healthcheck = load_healthcheck()
    defaults = {name: getattr(settings_from(cls, {}), name).port for name, cls in SETTINGS.items()}
    assert defaults == healthcheck.DEFAULT_PORTS
    assert healthcheck.port({"SERVICE": "loader"}) == defaults["loader"]
    assert healthcheck.port({"SERVICE": "api", "TERRITORY_API__PORT": "9000"}) == 9000


def test_the_image_health_check_fails_when_nothing_answers(monkeypatch):
    healthcheck = load_healthcheck()
    monkeypatch.setenv("SERVICE", "api")
    monkeypatch.setenv("TERRITORY_API__PORT", "1")  # nothing listens on port 1
    monkeypatch.setattr("sys.argv", ["healthcheck.py", "/healthz"])
    assert healthcheck.main() == 1


# --- the dashboard's nginx ------------------------------------------------------------


def nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("nginx is missing: scripts/test-tools.sh installs Debian's nginx-light")
    return found


def envsubst(template: str, env: dict[str, str]) -> str:
    """What the nginx image's entrypoint does: substitute the DEFINED variables only, so
    nginx's own $uri, $host … stay as they are."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m[1], m[0]), template)


def nginx_test(tmp_path: Path, server_conf: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the server block inside an `http {}` like the image's nginx.conf."""
    (tmp_path / "default.conf").write_text(server_conf)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        "http {\n    include /etc/nginx/mime.types;\n"
        f"    client_body_temp_path {tmp_path}/body;\n    proxy_temp_path {tmp_path}/proxy;\n"
        f"    include {tmp_path}/default.conf;\n}}\n"
    )
    return subprocess.run(
        [nginx(), "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )


def image_upstream(support) -> str:
    return support.image_env(ROOT / "deploy" / "frontend" / "Dockerfile", {})["API_UPSTREAM"]


def test_nginx_config_parses(tmp_path, support, settings_from):
    # api:8000 does not resolve here (nginx resolves upstreams while testing): keep the
    # port, replace the host.
    port = image_upstream(support).rsplit(":", 1)[1]
    result = nginx_test(
        tmp_path, envsubst(NGINX_TEMPLATE.read_text(), {"API_UPSTREAM": f"127.0.0.1:{port}"})
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_test_catches_a_broken_config(tmp_path):
    broken = NGINX_TEMPLATE.read_text().replace("location /api/ {", "location /api/ ", 1)
    result = nginx_test(tmp_path, envsubst(broken, {"API_UPSTREAM": "127.0.0.1:8000"}))
    assert result.returncode != 0
    unset = nginx_test(tmp_path, NGINX_TEMPLATE.read_text())  # ${API_UPSTREAM} left as is
    assert unset.returncode != 0


def locations(conf: str) -> dict[str, str]:
    """`location [=] PATH { body }` -> body (our config nests no blocks inside them)."""
    return {m[2]: m[3] for m in re.finditer(r"location\s+(=\s*)?(\S+)\s*\{([^}]*)\}", conf)}


def test_nginx_proxies_the_api_paths_to_the_port_the_api_listens_on(support, settings_from):
    conf = envsubst(NGINX_TEMPLATE.read_text(), {"API_UPSTREAM": image_upstream(support)})
    blocks = locations(conf)
    api = settings_from(ApiSettings, {})
    for path in ("/api/", "/openapi.json", "/docs"):
        assert f"proxy_pass http://api:{api.api.port};" in blocks[path], path
    # No URI after the upstream: /api/clients reaches the API as /api/clients.
    assert re.search(r"proxy_pass http://[^/;]+;", blocks["/api/"])
    assert "try_files $uri $uri/ /index.html;" in blocks["/"], "no SPA fallback"
    assert "return 200" in blocks["/healthz"]
    assert "return 200" in blocks["/readyz"]
    # The API's own routes are under /api (services/api/src/territory/api/routes).
    prefixes = {
        m[1]
        for f in (ROOT / "services" / "api" / "src" / "territory" / "api" / "routes").glob("*.py")
        for m in re.finditer(r'APIRouter\(prefix="(/[^"/]+)', f.read_text())
    }
    assert prefixes == {"/api"}, prefixes
    listen = re.search(r"listen (\d+);", conf)
    assert listen is not None
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["frontend"]["healthcheck"]["test"][-1].endswith(
        f":{listen[1]}/healthz"
    )
