"""Every operation with a body, taken from the contract: its body is validated JSON or
the request is refused (415 for the media type, 400 for what the parser refuses)."""

from __future__ import annotations

import uuid

import pytest

from service.contract import Contract
from tests.builders import error_of

CONTRACT = Contract.load()
WITH_BODY = [
    (path, method, operation)
    for path, item in CONTRACT.document["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict) and "requestBody" in operation
]
IDS = [operation["operationId"] for _, _, operation in WITH_BODY]
VALID_BODY = b'{"name": "Ab"}'
HUGE = "9" * 5000
# A PUT must send If-Match (428 before its body is read); any version will do here.
ANY_VERSION = {"If-Match": "*"}

REFUSED_TYPES = {
    "missing": None,
    "empty": "",
    "unknown": "text/plain",
    "look-alike": "application/xjson",
    "multipart": "multipart/form-data; boundary=x",
    "form": "application/x-www-form-urlencoded",
    "other charset": "application/json; charset=iso-8859-1",
}


def url_of(path: str) -> str:
    return "/api" + path.replace("{id}", str(uuid.uuid4()))


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=IDS)
def test_every_body_needs_a_declared_media_type(client, admin, path, method, operation):
    assert "415" in operation["responses"], "the contract must declare the 415"
    for label, content_type in REFUSED_TYPES.items():
        headers = dict(admin.headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = client.request(method, url_of(path), content=VALID_BODY, headers=headers)
        assert response.status_code == 415, (label, response.text)
        assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=IDS)
def test_declared_media_types_pass_in_any_case_and_with_a_utf8_charset(
    client, admin, path, method, operation
):
    for declared in operation["requestBody"]["content"]:
        for content_type in (f"{declared}; charset=utf-8", declared.upper()):
            headers = {**admin.headers, **ANY_VERSION, "Content-Type": content_type}
            response = client.request(method, url_of(path), content=b"[]", headers=headers)
            # Past the media type, the body is validated: a list is not an object.
            assert response.status_code == 400, (content_type, response.text)
            assert error_of(response)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=IDS)
def test_numbers_the_parser_refuses_are_400(client, admin, path, method, operation):
    media_type, declared = next(iter(operation["requestBody"]["content"].items()))
    schema = CONTRACT.resolve(declared["schema"])
    for name in schema["properties"]:
        for number in (HUGE, f"-{HUGE}", "NaN", "Infinity"):
            headers = {**admin.headers, **ANY_VERSION, "Content-Type": media_type}
            body = f'{{"{name}": {number}}}'.encode()
            response = client.request(method, url_of(path), content=body, headers=headers)
            assert response.status_code == 400, (name, number[:10], response.text)
            assert error_of(response)["code"] == "INVALID_JSON"


def test_huge_integers_in_the_query_are_400(client, admin):
    for parameter in ("page", "limit"):
        response = client.get(f"/api/posts?{parameter}={HUGE}", headers=admin.headers)
        assert response.status_code == 400
        assert error_of(response)["details"][0]["field"] == parameter


def test_a_body_without_content_type_never_reaches_the_handler_as_bytes(client):
    """The outside probe: an anonymous sign-up as an admin, without Content-Type."""
    body = b'{"name": "Ab", "email": "x@y.zz", "password": "12345678", "role": "admin"}'
    response = client.post("/api/users", content=body, headers={"Content-Type": ""})
    assert response.status_code == 415
    response = client.post("/api/users", content=body)
    assert response.status_code == 415
    response = client.post("/api/users", content=body, headers={"Content-Type": "APPLICATION/JSON"})
    assert response.status_code == 401  # validated and authorized: only admins set a role
