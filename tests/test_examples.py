"""Examples everywhere a client (or a mock server) looks: every request body and every
response body of the contract has one, and every example the contract holds (media
types, parameters, headers, schemas) validates against its schema, `$ref`s followed,
`nullable` and `format`s as OpenAPI 3.0 reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from service.contract import HTTP_METHODS, Contract

CONTRACT = Contract.load()
DOCUMENT = CONTRACT.document
ROOT = "urn:contract"
REGISTRY: Registry[Any] = Registry().with_resource(ROOT, Resource(DOCUMENT, DRAFT4))


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    return CONTRACT.resolve(node)


def media_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every request and response media object: where, and the object."""
    for template, item in DOCUMENT["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            where = f"{method.upper()} {template}"
            body = resolve(operation.get("requestBody", {}))
            for media, content in body.get("content", {}).items():
                yield f"{where} request {media}", content
            for status, declared in operation["responses"].items():
                for media, content in resolve(declared).get("content", {}).items():
                    yield f"{where} {status} {media}", content


def examples_of(node: dict[str, Any]) -> Iterator[Any]:
    if "example" in node:
        yield node["example"]
    for example in node.get("examples", {}).values():
        yield resolve(example)["value"]


def every_example() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of every example in the document."""
    for where, content in media_objects():
        for example in examples_of(content):
            yield where, content["schema"], example
    components = DOCUMENT["components"]
    for kind in ("parameters", "headers"):
        for name, node in components.get(kind, {}).items():
            for example in examples_of(node):
                yield f"{kind}/{name}", node["schema"], example
            schema = node.get("schema", {})
            if "example" in schema:
                yield f"{kind}/{name}/schema", schema, schema["example"]
    for name, schema in components["schemas"].items():
        if "example" in schema:
            yield f"schemas/{name}", schema, schema["example"]


EXAMPLES = list(every_example())


def test_every_request_and_response_body_has_an_example():
    missing = [where for where, content in media_objects() if not list(examples_of(content))]
    assert missing == []


def test_lists_show_a_page_with_a_next_cursor_and_a_last_one():
    for where, content in media_objects():
        examples = [e for e in examples_of(content) if isinstance(e, dict) and "pagination" in e]
        if examples:  # a walk that goes on
            assert any(e["pagination"]["nextCursor"] for e in examples), where
    post_lists = [
        list(examples_of(content))
        for where, content in media_objects()
        if where == "GET /posts 200 application/json"
    ]
    (examples,) = post_lists
    assert [e["pagination"]["nextCursor"] is None for e in examples] == [False, True]


def test_the_dashboard_example_is_a_partial_one():
    (example,) = (
        e
        for where, content in media_objects()
        if where.startswith("GET /dashboard 200")
        for e in examples_of(content)
    )
    assert example["meta"]["partial"] is True
    missing = {error["part"] for error in example["meta"]["errors"]}
    assert all(example["data"][part] is None for part in missing)


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_validates_against_its_schema(where, schema, example):
    validator = OAS30Validator(
        {**schema, "components": DOCUMENT["components"]}
        if "$ref" not in schema
        else {"$ref": ROOT + schema["$ref"]},
        registry=REGISTRY,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]
    assert errors == [], where
