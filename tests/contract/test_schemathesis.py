"""Schemathesis against the app in-process: every operation, every check, positive and
negative data. Zero failures allowed.

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
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.contract import stats

EXAMPLES_PER_OPERATION = 60


@pytest.fixture(scope="session")
def api_schema(app: connexion.FlaskApp) -> OpenApiSchema:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=EXAMPLES_PER_OPERATION,
        deterministic=True,
        database="none",
    )
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_operation_conforms(case):
    stats.cases["stateless"] += 1
    case.call_and_validate()
