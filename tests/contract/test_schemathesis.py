"""Schemathesis against the app in-process: every operation, every check, both data modes,
then the stateful phase along the spec's `links`. Zero failures allowed."""

from __future__ import annotations

import connexion
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.contract import stats

EXAMPLES_PER_OPERATION = 60
STATEFUL_SCENARIOS = 40


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


def test_stateful_sequences_conform(api_schema: OpenApiSchema):
    base = api_schema.as_state_machine()

    class Counted(base):  # type: ignore[misc, valid-type]
        def after_call(self, response, case):
            stats.cases["stateful"] += 1

    Counted.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            stateful_step_count=8,
        )
    )
    assert stats.cases["stateful"] > STATEFUL_SCENARIOS
