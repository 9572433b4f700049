"""The Schemathesis CLI against a live server: adds the coverage phase (boundary and
negative values per field, unsupported methods, missing headers) and the stateful phase
along the spec's `links` to the in-process run."""

from __future__ import annotations

import re

from tests.contract import stats
from tests.contract.live import run_contract


def test_cli_finds_no_issue_in_any_phase(database_url, client):
    """On each backend; `client` empties the tables before and after."""
    result = run_contract(max_examples=40, database_url=database_url)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No issues found" in output
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated, output
    assert generated.group(1) == generated.group(2)
    stats.cases["cli"] += int(generated.group(1))
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in output or f"✅  {phase}" in output, output
