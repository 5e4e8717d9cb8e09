"""Property-based tests from the OpenAPI document (schemathesis), with every role's token,
against the API served over loopback: no server error, and every response (problems
included) conforms to the documented schema, status codes and content types.

Examples per operation are few (see `EXAMPLES`) to keep the suite within its time budget;
the generated inputs still cover every operation, parameter and body of the document.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from territory.api.app import create_app
from territory.api.security import Role
from territory.api.settings import ApiSettings

from .utils.server import serving
from .utils.tokens import bearer, token_for

pytestmark = pytest.mark.kafka

EXAMPLES = 12
TOKENS = {role: bearer(token_for(role, "EMEA")) for role in Role}
# What is checked on every response. Authentication is tested route by route elsewhere
# (test_access.py); schemathesis' own auth probe cannot see a token passed as a header.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def api_url(settings, warehouse_engine):
    with serving(settings) as url:
        yield url


# The document is the app's own; the schema is built here, the server in a fixture.
schema = schemathesis.openapi.from_dict(
    create_app(ApiSettings(environment="development"), manage_runtime=False).openapi()
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema_for_every_role(case, api_url):
    for headers in TOKENS.values():
        case.call_and_validate(base_url=api_url, headers=headers, checks=CHECKS)
    anonymous = case.call(base_url=api_url)
    if case.path.startswith("/api") and case.path != "/api/auth/config":
        # Never an answer without a token (a malformed request may be refused before auth);
        # how to sign in is the one public /api route.
        assert 400 <= anonymous.status_code < 500, anonymous.status_code
        assert anonymous.status_code != 403
    else:
        assert anonymous.status_code < 500
