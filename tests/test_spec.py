"""The contract itself: valid OpenAPI 3.0.3, and the conventions of DESIGN.md hold."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from service.contract import HTTP_METHODS, SPEC_DIR, SPEC_FILE, Contract

CONTRACT = Contract.load()
DOCUMENT = CONTRACT.document


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


resolve = CONTRACT.resolve


OPERATIONS = list(operations())
IDS = [f"{method.upper()} {path}" for path, method, _ in OPERATIONS]


def test_the_document_is_valid_openapi_3_0_3():
    spec, _ = read_from_filename(str(SPEC_DIR / SPEC_FILE))
    validate(spec)
    assert DOCUMENT["openapi"] == "3.0.3"


def test_operation_ids_are_unique_snake_case_verbs():
    ids = [op["operationId"] for _, _, op in OPERATIONS]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", operation_id), operation_id


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_each_operation_has_a_handler_with_its_name(path, method, operation):  # noqa: ARG001
    module = importlib.import_module(operation["x-openapi-router-controller"])
    assert callable(getattr(module, operation["operationId"]))


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_each_operation_declares_its_errors_and_request_id(path, method, operation):  # noqa: ARG001
    responses = operation["responses"]
    assert {"400", "500"} <= set(responses)
    if "{id}" in path:
        assert "404" in responses
    if "requestBody" in operation:
        assert {"413", "415"} <= set(responses)
    for status, response in responses.items():
        headers = resolve(response).get("headers", {})
        assert "X-Request-ID" in headers, f"{status} lacks X-Request-ID"
        if status.startswith(("4", "5")):
            schema = resolve(response)["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


def _schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        node = resolve(node)
        yield node
        for value in node.values():
            yield from _schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_in(value)


# Never refused, so its schema bounds nothing: an unusable one (over 128 characters
# too) is replaced by a fresh id at the edge (service/edge/request_id.py).
REPLACED_NOT_REFUSED = {"X-Request-ID"}


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_every_input_is_bounded(path, method, operation):  # noqa: ARG001
    """Unbounded integers overflow the database and unbounded strings waste it."""
    declared = [*DOCUMENT["paths"][path].get("parameters", []), *operation.get("parameters", [])]
    inputs = [p for p in declared if resolve(p)["name"] not in REPLACED_NOT_REFUSED]
    inputs.append(operation.get("requestBody", {}))
    for schema in _schemas_in(inputs):
        if schema.get("type") == "integer":
            assert "minimum" in schema and "maximum" in schema, schema
        if schema.get("type") == "string" and not _is_enum(schema):
            assert "maxLength" in schema, schema


def _is_enum(schema: dict[str, Any]) -> bool:
    """An enum, or a schema that narrows a named enum (`allOf: [$ref]` with a default)."""
    return "enum" in schema or any("enum" in resolve(part) for part in schema.get("allOf", []))


def test_every_create_links_to_its_read():
    ids = {op["operationId"] for _, _, op in OPERATIONS}
    for _, method, operation in OPERATIONS:
        if method != "post" or not operation["operationId"].startswith("create_"):
            continue  # a POST that creates nothing (mark_notifications_read)
        read = operation["operationId"].replace("create_", "get_")
        if read in ids:
            links = operation["responses"]["201"].get("links", {})
            assert read in {link["operationId"] for link in links.values()}


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_security_is_declared_and_answered(path, method, operation):  # noqa: ARG001
    """Public operations say `security: []`; protected ones declare 401 (and 403 if ruled)."""
    security = operation.get("security", DOCUMENT["security"])
    public = security == [] or {} in security
    if not public or security != []:
        assert "401" in operation["responses"], "a token can be refused"
    if {"x-allow", "x-roles", "x-field-roles"} & set(operation):
        assert "403" in operation["responses"]
    if public:
        assert "x-allow" not in operation and "x-roles" not in operation


# Operations that touch nothing that can wait: they run in the event loop (flask_bridge).
WAITS_ON_NOTHING = {"get_health"}


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_that_touches_the_database_declares_503(path, method, operation):  # noqa: ARG001
    responses = operation["responses"]
    if operation["operationId"] in WAITS_ON_NOTHING:
        assert "503" not in responses
        return
    unavailable = resolve(responses["503"])
    assert "Retry-After" in unavailable["headers"]
    assert "SERVICE_UNAVAILABLE" in unavailable["description"]


# The upstream contracts of the dashboard (openapi/upstreams/): valid, and this service's
# own operations satisfy them, so one instance can be another's core service.
UPSTREAMS = sorted((SPEC_DIR / "upstreams").glob("*.yaml"))
DOCUMENTATION = {"description", "example", "x-pattern-message"}


def _inlined(document: dict[str, Any], node: Any) -> Any:
    """`node` with every local $ref replaced by what it names, documentation left out."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _inlined(document, target)
        return {k: _inlined(document, v) for k, v in node.items() if k not in DOCUMENTATION}
    if isinstance(node, list):
        return [_inlined(document, value) for value in node]
    return node


def _ok_body(document: dict[str, Any], operation: dict[str, Any]) -> Any:
    response = _inlined(document, operation["responses"]["200"])
    return response["content"]["application/json"]["schema"]


@pytest.mark.parametrize("path", UPSTREAMS, ids=[path.stem for path in UPSTREAMS])
def test_this_service_satisfies_each_upstream_contract(path):
    spec, _ = read_from_filename(str(path))
    validate(spec)
    upstream = Contract.load(path)
    assert upstream.operations, "an upstream contract declares what the dashboard calls"
    for template, item in upstream.document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            ours = DOCUMENT["paths"][template][method]
            assert ours["operationId"] == operation["operationId"]
            assert _ok_body(upstream.document, operation) == _ok_body(DOCUMENT, ours)
            our_query = {
                resolve(p)["name"]
                for p in ours.get("parameters", [])
                if resolve(p)["in"] == "query"
            }
            their_query = {p["name"] for p in operation.get("parameters", [])}
            assert their_query <= our_query


def test_the_dashboard_stats_part_is_user_stats_but_nullable():
    """Inline in `Dashboard` (nullable does not reach through allOf in OpenAPI 3.0)."""
    part = _inlined(DOCUMENT, DOCUMENT["components"]["schemas"]["Dashboard"]["properties"]["stats"])
    assert part.pop("nullable") is True
    assert part == _inlined(DOCUMENT, DOCUMENT["components"]["schemas"]["UserStats"])
