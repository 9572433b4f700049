"""Schemathesis against the app in-process: every operation, every check, positive and
negative data, both as an admin and anonymously. Zero failures allowed.

The stateful phase along the spec's `links` runs through the CLI against a live server
(test_schemathesis_cli.py): Schemathesis' Python state machine trips Hypothesis' flaky
strategy detection when the server's state changes between runs, the CLI's engine does not.
"""

from __future__ import annotations

import connexion
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.builders import make_admin
from tests.contract import stats

# A quick pass for `make test`; `make contract` runs the CLI with every phase and more.
EXAMPLES_PER_OPERATION = 12
ADMIN_EMAIL = "fuzz-admin@example.com"
ADMIN_PASSWORD = "fuzz admin password"


def validate(case, headers: dict[str, str] | None = None) -> None:
    """Every check, except that a `cursor` Schemathesis made up may be refused although it
    fits the schema: only a cursor the service handed out is one (an opaque, signed
    position; a 400 otherwise, and with `page`). Every other check still runs on those
    cases; tests/handlers/test_cursors.py covers cursors that are real."""
    made_up_cursor = "cursor" in (case.query or {})
    excluded = [positive_data_acceptance] if made_up_cursor else []
    case.call_and_validate(headers=headers, excluded_checks=excluded)


def contract_schema(app: connexion.FlaskApp, *, with_security_parameters: bool) -> OpenApiSchema:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=EXAMPLES_PER_OPERATION,
        deterministic=True,
        database="none",
        with_security_parameters=with_security_parameters,
    )
    return schema


@pytest.fixture(scope="session")
def api_schema(app: connexion.FlaskApp) -> OpenApiSchema:
    """Anonymous: Schemathesis makes up `Authorization` headers, good and bad."""
    return contract_schema(app, with_security_parameters=True)


@pytest.fixture(scope="session")
def admin_api_schema(app: connexion.FlaskApp) -> OpenApiSchema:
    """As an admin, whose token replaces any `Authorization` header Schemathesis would make
    up: a "negative" case whose only invalid part was that header is then a valid request."""
    return contract_schema(app, with_security_parameters=False)


@pytest.fixture
def admin_headers(app: connexion.FlaskApp):
    """An admin token for each case: fuzzing may revoke, demote or delete the last admin,
    so the token is checked (one cheap read) and made anew only when it no longer is one."""
    client = app.test_client()
    current: dict[str, str] = {}

    def still_admin(headers: dict[str, str]) -> bool:
        me = client.get("/api/me", headers=headers)
        return me.status_code == 200 and me.json()["data"]["role"] == "admin"

    def headers() -> dict[str, str]:
        if current and still_admin(current):
            return dict(current)
        make_admin(app, ADMIN_EMAIL, ADMIN_PASSWORD)
        response = client.post(
            "/api/tokens", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 201, response.text
        current.clear()
        current["Authorization"] = f"Bearer {response.json()['data']['token']}"
        return dict(current)

    return headers


schema = schemathesis.pytest.from_fixture("api_schema")
admin_schema = schemathesis.pytest.from_fixture("admin_api_schema")


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_conforms_anonymously(case):
    stats.cases["stateless anonymous"] += 1
    validate(case)


@admin_schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_conforms_as_an_admin(case, admin_headers):
    stats.cases["stateless admin"] += 1
    validate(case, headers=admin_headers())
