"""The Schemathesis CLI against a live server: adds the coverage phase (boundary and
negative values per field, unsupported methods, missing headers) and the stateful phase
along the spec's `links` to the in-process run, anonymously and as an admin."""

from __future__ import annotations

import re

import pytest

from tests.contract import stats
from tests.contract.live import run_contract

# Writes that refuse valid-looking data for the state it meets, by design: a made-up
# `If-Match` is a 412 (a PUT without one, a 428), an `Idempotency-Key` the run reuses
# with another body a 422. Schemathesis reports operations that mostly end there as
# "Schema validation mismatch"; for these it is not one (tests/handlers/
# test_conditional_requests.py and test_idempotency.py cover the refusals).
REFUSE_BY_STATE = {
    "PUT /users/{id}",
    "PATCH /users/{id}",
    "DELETE /users/{id}",
    "PUT /posts/{id}",
    "PATCH /posts/{id}",
    "DELETE /posts/{id}",
    "PATCH /comments/{id}",
    "DELETE /comments/{id}",
    "POST /users",
    "POST /posts",
    "POST /posts/{id}/comments",
}


# Logins with made-up credentials: every one is a 401 by design, and since failed logins
# count per address and email tried, no made-up email reaches the 429 either.
ONLY_401_BY_DESIGN = {"POST /tokens"}


def listed_under(output: str, warning: str) -> set[str]:
    """The operations a warning of the run lists."""
    section = output.partition(f"{warning}:")[2].partition("💡")[0]
    return set(re.findall(r"^\s*- ([A-Z]+ \S+)\s*$", section, re.MULTILINE))


def mismatched_operations(output: str) -> set[str]:
    """The operations listed under the "Schema validation mismatch" warning."""
    return listed_under(output, "Schema validation mismatch")


@pytest.mark.cli_contract
@pytest.mark.usefixtures("clean_database")
def test_cli_finds_no_issue_in_any_phase(database_url):
    """On each backend; `client` empties the tables before and after."""
    for kind, result in zip(
        ("anonymous", "admin"),
        run_contract(max_examples=25, database_url=database_url),
        strict=True,
    ):
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        if kind == "admin":
            # No failure; at most a note that stateful runs did not reach a row to delete
            # (DELETE /users/{id} then answers only 404), which depends on the run's data,
            # the conditional and idempotent writes' refusals (REFUSE_BY_STATE), and the
            # logins with made-up credentials (ONLY_401_BY_DESIGN).
            warnings = re.findall(r"⚠️ (.+)", output)
            assert mismatched_operations(output) <= REFUSE_BY_STATE, output
            assert "No issues found" in output or all(
                warning.startswith(
                    ("Missing test data", "Schema validation mismatch", "Authentication failed")
                )
                for warning in warnings
            ), output
            if "Authentication failed" in output:
                assert re.search(r"Authentication failed: 1 operation returned only 401", output)
                only_401 = listed_under(output, "401 Unauthorized (1 operation)")
                assert only_401 == ONLY_401_BY_DESIGN, output
        else:  # Schemathesis warns, rightly, that protected operations all said 401
            assert re.search(r"Authentication failed: \d+ operations returned only 401", output)
        generated = re.search(r"(\d+) generated, (\d+) passed", output)
        assert generated, output
        assert generated.group(1) == generated.group(2)
        stats.cases[f"cli {kind}"] += int(generated.group(1))
        for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
            assert re.search(rf"✅ +{phase}", output), output
