"""The Spectral ruleset (.spectral.yaml): the contract passes it, and each of the project's
rules fires on a sample that breaks its convention (one edit of the real contract)."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
SPECTRAL = ROOT / "node_modules" / ".bin" / "spectral"
DOCUMENT: dict[str, Any] = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
UNKNOWN = {"description": "Unexpected.", "content": {"application/json": {"schema": {}}}}

Edit = Callable[[dict[str, Any]], None]


def me(document: dict[str, Any]) -> dict[str, Any]:
    return document["paths"]["/me"]["get"]


def param(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["parameters"][name]


EXAMPLE_RULES = frozenset({"oas3-valid-media-example", "oas3-valid-schema-example"})


def rename_property(schema: dict[str, Any], old: str, new: str) -> None:
    schema["properties"][new] = schema["properties"].pop(old)
    schema["required"] = [new if field == old else field for field in schema["required"]]


SAMPLES: dict[str, Edit] = {
    "operation-id-snake-case": lambda d: me(d).update(operationId="getMe"),
    "operation-controller": lambda d: me(d).pop("x-openapi-router-controller"),
    "error-responses-shared": lambda d: me(d)["responses"].update({"418": UNKNOWN}),
    "protected-operations-answer-401-403": lambda d: me(d)["responses"].pop("401"),
    "list-parameters": lambda d: d["paths"]["/users"]["get"]["parameters"].pop(2),
    "bounded-inputs": lambda d: param(d, "Search")["schema"].pop("maxLength"),
    "camel-case-properties": lambda d: rename_property(
        d["components"]["schemas"]["Post"], "authorId", "author_id"
    ),
    "create-links": lambda d: d["paths"]["/posts"]["post"]["responses"]["201"]["links"].pop(
        "GetPost"
    ),
    "rate-limit-syntax": lambda d: d["paths"]["/posts"]["get"].update({"x-rate-limit": "off"}),
    "rate-limit-default-syntax": lambda d: d.update({"x-rate-limit-default": "120 per minute"}),
}
MORE: dict[str, tuple[str, Edit]] = {
    "403 where rules apply": (
        "protected-operations-answer-401-403",
        lambda d: d["paths"]["/users/{id}"]["delete"]["responses"].pop("403"),
    ),
    "integers have both bounds": (
        "bounded-inputs",
        lambda d: param(d, "Page")["schema"].pop("maximum"),
    ),
    "bounds inside bodies": (
        "bounded-inputs",
        lambda d: d["components"]["schemas"]["Credentials"]["properties"]["email"].pop("maxLength"),
    ),
    "operation rate limits": (
        "rate-limit-syntax",
        lambda d: d["paths"]["/tokens"]["post"].update({"x-rate-limit": "10/fortnight"}),
    ),
}
CASES = {name: (name, edit) for name, edit in SAMPLES.items()} | MORE


def lint(files: list[Path]) -> list[dict[str, Any]]:
    command = [str(SPECTRAL), "lint", *map(str, files), "--format", "json", "--quiet"]
    command += ["--ruleset", str(ROOT / ".spectral.yaml")]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout or "[]")


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> dict[str, set[str]]:
    """One Spectral run over the contract and every sample: the rules each one broke."""
    folder = tmp_path_factory.mktemp("spectral")
    files = {"contract": ROOT / "openapi" / "openapi.yaml"}
    for name, (_, edit) in CASES.items():
        document = copy.deepcopy(DOCUMENT)
        edit(document)
        files[name] = folder / f"{name.replace(' ', '-')}.yaml"
        files[name].write_text(yaml.safe_dump(document, sort_keys=False))
    by_file = {path.resolve(): name for name, path in files.items()}
    broken: dict[str, set[str]] = {name: set() for name in files}
    for result in lint(list(files.values())):
        name = by_file[Path(result["source"]).resolve()]
        # A sample is a copy elsewhere (the OWASP rules' overrides name the contract's own
        # path), and its edit leaves the examples as they were: on a sample only the
        # project's rules and Spectral's others are judged.
        if name != "contract" and (
            result["code"].startswith("owasp:") or result["code"] in EXAMPLE_RULES
        ):
            continue
        if result["severity"] <= 1:  # errors and warnings
            broken[name].add(result["code"])
    return broken


def test_the_contract_passes_the_ruleset(findings):
    assert findings["contract"] == set()


def test_every_project_rule_has_a_sample():
    rules = yaml.safe_load((ROOT / ".spectral.yaml").read_text())["rules"]
    own = {name for name, rule in rules.items() if isinstance(rule, dict)}
    assert own == set(SAMPLES)


@pytest.mark.parametrize(("case", "rule"), [(case, rule) for case, (rule, _) in CASES.items()])
def test_the_sample_makes_its_rule_fire(findings, case, rule):
    assert findings[case] == {rule}
