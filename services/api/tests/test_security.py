"""Authentication, settings that refuse unsafe secrets, limits, CORS, docs and errors."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from territory.api.app import create_app
from territory.api.middleware import TokenBucketLimiter
from territory.api.runtime import running
from territory.api.security import AuthError, Principal, Role, TokenVerifier
from territory.api.settings import DEV_SIGNING_KEY, ApiSettings, AuthSettings

from .conftest import make_settings
from .utils.tokens import AUDIENCE, ISSUER, TEST_KEY, auth_settings, bearer, raw_token, token_for

pytestmark = pytest.mark.kafka

PROTECTED = "/api/conflicts/c-1/acknowledge"
REAL = SecretStr("a-real-secret-from-the-vault")


def _claims(**over):
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "x@territory.test",
        "iat": now,
        "exp": now + 600,
        "roles": ["CRM_ANALYST"],
    } | over


def _unsigned(claims) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BAD_TOKENS = {
    "garbage": "not-a-jwt",
    "expired": raw_token(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)),
    "alg_none": _unsigned(_claims()),
    "wrong_audience": raw_token(_claims(aud="someone-else")),
    "wrong_issuer": raw_token(_claims(iss="https://evil.example")),
    "wrong_key": raw_token(_claims(), key="another-key-" + "0123456789abcdef" * 4),
    "dev_key": raw_token(_claims(), key=DEV_SIGNING_KEY),
    "no_expiry": raw_token({k: v for k, v in _claims().items() if k != "exp"}),
    "no_role": raw_token(_claims(roles=["SYSADMIN"])),
    "hs512_not_pinned": raw_token(_claims(), algorithm="HS512"),
}


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401_problems(client, name):
    response = await client.post(PROTECTED, json={}, headers=bearer(BAD_TOKENS[name]))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401
    # Generic words only (issue 13): the library's exception names stay in the logs.
    detail = response.json()["detail"]
    assert re.search(r"Error|PyJWT|jwt|Signature|Decode", detail) is None, detail
    if name == "expired":
        assert detail == "token expired"
    elif name in ("garbage", "wrong_audience", "wrong_issuer", "wrong_key", "no_expiry"):
        assert detail == "invalid token"


async def test_missing_or_non_bearer_credentials_are_401(client):
    assert (await client.post(PROTECTED, json={})).status_code == 401
    basic = {"authorization": "Basic dXNlcjpwYXNz"}
    assert (await client.post(PROTECTED, json={}, headers=basic)).status_code == 401


async def test_a_role_not_allowed_is_403(client):
    response = await client.post(PROTECTED, json={}, headers=bearer(token_for(Role.DATA_ENGINEER)))
    assert response.status_code == 403
    assert "CRM_ANALYST" in response.json()["detail"]


def test_keycloak_style_nested_role_claim():
    settings = auth_settings().model_copy(update={"roles_claim": "realm_access.roles"})
    token = raw_token(
        _claims(
            roles=None, realm_access={"roles": ["SALES_LEADERSHIP", "other"]}, regions="EMEA APAC"
        )
    )
    principal = TokenVerifier(settings).verify(token)
    assert principal.roles == {Role.SALES_LEADERSHIP}
    assert principal.regions == {"EMEA", "APAC"}
    assert principal.region_scope == {"EMEA", "APAC"}


def test_rs256_with_a_configured_public_key_refuses_hs256_confusion():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = AuthSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["RS256"],
        public_key=SecretStr(public_pem.decode()),
    )
    verifier = TokenVerifier(settings)
    good = jwt.encode(_claims(), private, algorithm="RS256")
    assert verifier.verify(good).roles == {Role.CRM_ANALYST}
    # The classic confusion attack: an HS256 token "signed" with the public key.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = good.split(".")[1]
    forged = f"{header}.{body}.{good.split('.')[2]}"
    with pytest.raises(AuthError):
        verifier.verify(forged)


def test_principal_policy():
    sl = Principal("s", frozenset({Role.SALES_LEADERSHIP}), frozenset({"EMEA"}))
    assert sl.region_scope == {"EMEA"}
    assert not sl.sees_tax_id
    assert not sl.sees_emails
    assert Principal("s", frozenset({Role.SALES_LEADERSHIP}), frozenset()).region_scope == set()
    analyst = Principal("a", frozenset({Role.CRM_ANALYST}), frozenset({"NA"}))
    assert analyst.region_scope is None
    assert analyst.sees_emails
    assert not analyst.sees_tax_id
    both = Principal("b", frozenset({Role.SALES_LEADERSHIP, Role.DATA_ENGINEER}), frozenset())
    assert both.region_scope is None
    assert both.sees_tax_id


def test_settings_refuse_the_dev_key_outside_development():
    with pytest.raises(ValidationError, match="development signing key"):
        ApiSettings(environment="production", secret_key=REAL, auth=AuthSettings(issuer=ISSUER))
    with pytest.raises(ValidationError, match="development signing key"):
        ApiSettings(environment="test", auth=AuthSettings(issuer=ISSUER))
    with pytest.raises(ValidationError, match="ISSUER"):
        ApiSettings(
            environment="production",
            secret_key=REAL,
            auth=AuthSettings(signing_key=SecretStr(TEST_KEY)),
        )
    with pytest.raises(ValidationError, match="none"):
        AuthSettings(algorithms=["none"])
    with pytest.raises(ValidationError, match="mix"):
        AuthSettings(algorithms=["HS256", "RS256"])
    assert (
        ApiSettings(environment="development").auth.signing_key.get_secret_value()
        == DEV_SIGNING_KEY
    )
    ok = ApiSettings(environment="production", secret_key=REAL, auth=auth_settings())
    assert ok.docs_enabled is False


def test_dev_token_command_prints_a_token_the_dev_settings_accept(tmp_path: Path):
    territory = Path(sys.executable).with_name("territory")
    result = subprocess.run(
        [str(territory), "token", "--role", "SALES_LEADERSHIP", "--region", "NA"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TERRITORY_ENVIRONMENT": "development"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    principal = TokenVerifier(ApiSettings(environment="development").auth).verify(
        result.stdout.strip()
    )
    assert principal.roles == {Role.SALES_LEADERSHIP}
    assert principal.regions == {"NA"}
    # A region means nothing to a role that sees every region: refused, not ignored.
    ignored = subprocess.run(
        [str(territory), "token", "--role", "CRM_ANALYST", "--region", "NA"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TERRITORY_ENVIRONMENT": "development"},
        check=False,
    )
    assert ignored.returncode != 0
    assert "CRM_ANALYST sees every region" in ignored.stderr, ignored.stderr
    assert ignored.stdout == ""
    refused = subprocess.run(
        [str(territory), "token", "--role", "CRM_ANALYST"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TERRITORY_ENVIRONMENT": "production"},
        check=False,
    )
    assert refused.returncode != 0


def test_token_bucket():
    bucket = TokenBucketLimiter(rate=2.0, burst=3)
    assert [bucket.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a", now=0.0) == pytest.approx(0.5)
    assert bucket.take("b", now=0.0) == 0.0  # per client
    assert bucket.take("a", now=0.6) == 0.0  # refilled


@pytest.fixture
async def strict_client(shared_kafka, warehouse_engine, fake_rules):
    settings = make_settings(
        shared_kafka,
        "sqlite://",
        rules_url=fake_rules.url,
        rate_limit_per_second=0.01,  # no refill during the test, however slow the machine
        rate_limit_burst=3,
        max_request_bytes=2048,
        cors_origins=["https://dash.example"],
        docs=False,
    )
    app = create_app(settings, manage_runtime=False)
    async with running(settings, engine=warehouse_engine) as rt:
        app.state.runtime = rt
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            yield c


async def test_rate_limit_answers_429_with_retry_after(strict_client):
    statuses = [(await strict_client.post(PROTECTED, json={})).status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
    response = await strict_client.post(PROTECTED, json={})
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    assert (await strict_client.get("/healthz")).status_code == 200  # probes are exempt


async def test_request_size_limit(strict_client):
    big = {"reason": "x" * 5000}
    response = await strict_client.post(PROTECTED, json=big, headers=bearer(token_for(Role.ADMIN)))
    assert response.status_code == 413
    assert response.json()["title"] == "Request too large"

    async def chunks():
        for _ in range(10):
            yield b"x" * 500

    streamed = await strict_client.post(
        PROTECTED, content=chunks(), headers=bearer(token_for(Role.ADMIN))
    )
    assert streamed.status_code == 413


async def test_docs_can_be_switched_off(strict_client, client):
    assert (await strict_client.get("/docs")).status_code == 404
    assert (await strict_client.get("/openapi.json")).status_code == 404
    assert (await client.get("/openapi.json")).status_code == 200


async def test_cors_allow_list(strict_client):
    allowed = await strict_client.options(
        PROTECTED,
        headers={"origin": "https://dash.example", "access-control-request-method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    refused = await strict_client.options(
        PROTECTED,
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_unknown_routes_and_methods_are_problems(client):
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.delete("/healthz")
    assert wrong.status_code == 405


async def test_unexpected_errors_reveal_no_internals(settings, runtime):
    app = create_app(settings, manage_runtime=False)
    app.state.runtime = runtime

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("secret internal detail /etc/passwd")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        response = await c.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_ops_endpoints(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"broker": True, "warehouse": True}
    metrics = await client.get("/metrics/")
    assert metrics.status_code == 200
    assert "territory_api_requests_total" in metrics.text


async def test_a_warehouse_without_tables_is_a_503_problem(settings, runtime, tmp_path):
    from territory.api.warehouse import make_engine

    empty = make_engine(f"sqlite:///{tmp_path}/empty.db")
    app = create_app(settings, manage_runtime=False)
    app.state.runtime = dataclasses.replace(runtime, engine=empty)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        response = await c.get("/api/clients", headers=bearer(token_for(Role.ADMIN)))
    empty.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "client_dim" not in response.text


def test_count_cache_expires():
    from territory.api.counting import CountCache

    cache = CountCache(ttl=5, max_entries=2)
    cache.put("a", 10, now=0)
    assert cache.get("a", now=4.9) == 10
    assert cache.get("a", now=5.1) is None
    cache.put("b", 1, now=0)
    cache.put("c", 2, now=0)
    cache.put("d", 3, now=0)
    assert cache.get("b", now=1) is None  # bounded: the oldest entry went
    assert CountCache(ttl=0).get("x") is None


def test_tokens_from_an_oidc_provider_via_its_jwks_url():
    """The production path: RS256 tokens checked against the provider's JWKS document,
    served here by a real HTTP server on loopback."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = AuthSettings(
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=["RS256"],
            jwks_url=f"http://127.0.0.1:{server.server_address[1]}/jwks.json",
        )
        verifier = TokenVerifier(settings)
        good = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "k1"})
        assert verifier.verify(good).roles == {Role.CRM_ANALYST}
        unknown_kid = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "k2"})
        with pytest.raises(AuthError, match="signing key"):
            verifier.verify(unknown_kid)
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "k1"})
        with pytest.raises(AuthError):
            verifier.verify(forged)
        # The production settings accept a JWKS configuration without a shared secret.
        ApiSettings(environment="production", secret_key=REAL, auth=settings)
    finally:
        server.shutdown()
        server.server_close()


def test_count_cache_serves_the_old_value_while_one_caller_recounts():
    import threading
    import time as _time

    from territory.api.counting import CountCache

    cache = CountCache(ttl=0.05)
    calls = []
    assert cache.get_or_compute("k", lambda: calls.append(1) or 1) == 1
    _time.sleep(0.06)  # expired
    started = threading.Event()
    release = threading.Event()

    def slow_recount():
        calls.append(2)
        started.set()
        release.wait(5)
        return 2

    worker = threading.Thread(target=lambda: cache.get_or_compute("k", slow_recount))
    worker.start()
    assert started.wait(5)
    # While the recount runs, others get the previous value at once and start no scan.
    assert cache.get_or_compute("k", lambda: calls.append(3) or 3) == 1
    release.set()
    worker.join(5)
    assert cache.get_or_compute("k", lambda: calls.append(4) or 4) == 2
    assert calls == [1, 2]
