"""The deprecation lifecycle as a client sees it: what the contract marks `deprecated: true`
(with `x-deprecated-since` and `x-sunset`) keeps working, and every answer to a request
that uses it carries `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and a `Link` with
`rel="deprecation"`; a metric counts who still uses it."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from service.app import create_app, runtime_of
from service.contract import Contract
from service.plan import Plans
from tests.builders import account, bearer, create_post

CONTRACT = Contract.load()
PAGE = CONTRACT.document["components"]["parameters"]["Page"]
# 2026-12-06 and 2027-06-30, the dates the contract gives `page`.
DEPRECATED_AT = "@1796515200"
SUNSET = "Wed, 30 Jun 2027 00:00:00 GMT"
PAGE_LINK = '</api/openapi.json#/components/parameters/Page>; rel="deprecation"'


def test_page_is_deprecated_in_favour_of_cursor_with_a_sunset():
    assert PAGE["deprecated"] is True
    assert (PAGE["x-deprecated-since"], PAGE["x-sunset"]) == ("2026-12-06", "2027-06-30")
    assert "`cursor` instead" in PAGE["description"]


def test_a_request_giving_page_gets_the_three_headers(client):
    response = client.get("/api/posts", params={"page": 1, "limit": 5})
    assert response.status_code == 200
    assert response.headers["Deprecation"] == DEPRECATED_AT
    assert response.headers["Sunset"] == SUNSET
    link = response.headers["Link"]
    assert link.endswith(", " + PAGE_LINK)  # after the page links, in the one field
    assert 'rel="first"' in link


def test_a_request_without_it_gets_none_of_them(client):
    response = client.get("/api/posts", params={"limit": 5})
    assert response.status_code == 200
    assert "Deprecation" not in response.headers
    assert "Sunset" not in response.headers
    assert 'rel="deprecation"' not in response.headers["Link"]


def test_a_refused_request_giving_page_is_told_too(client):
    response = client.get("/api/posts", params={"page": 0})
    assert response.status_code == 400
    assert response.headers["Deprecation"] == DEPRECATED_AT
    assert response.headers["Sunset"] == SUNSET
    assert response.headers["Link"] == PAGE_LINK


def test_the_link_leads_to_the_deprecated_item_in_the_served_contract(client):
    document = client.get("/api/openapi.json").json()
    assert document["components"]["parameters"]["Page"]["deprecated"] is True


@pytest.mark.usefixtures("clean_database")
def test_deprecated_use_is_counted_by_operation_and_caller(settings):
    app = create_app(replace(settings))
    client = app.test_client()
    reader = account(client)
    client.get("/api/posts?page=1")
    client.get("/api/posts?page=2", headers=bearer(reader.token))
    client.get("/api/users?page=1", headers=bearer(reader.token))
    client.get("/api/posts")
    sample = runtime_of(app).metrics.registry.get_sample_value
    total = "deprecated_requests_total"
    labels = {"operation": "list_posts", "feature": "query:page"}
    assert sample(total, {**labels, "caller": "anonymous"}) == 1
    assert sample(total, {**labels, "caller": "user"}) == 1
    assert sample(total, {"operation": "list_users", "feature": "query:page", "caller": "user"})
    runtime_of(app).database.dispose()


def deprecated_elsewhere() -> Contract:
    """The contract with an operation, a header parameter and a body field deprecated."""
    document = copy.deepcopy(CONTRACT.document)
    dates = {"deprecated": True, "x-deprecated-since": "2026-12-06", "x-sunset": "2027-06-30"}
    document["paths"]["/users/{id}/stats"]["get"].update(dates)
    document["components"]["parameters"]["IdempotencyKey"].update(dates)
    body = document["components"]["schemas"]["PostCreate"]["properties"]
    body["status"] = {**body["status"], **dates, "x-deprecation-link": "https://x.test/d"}
    return Contract(document, CONTRACT.text)


def test_a_deprecated_operation_header_and_body_field_are_told(app_with, client):
    author = account(client)
    post = create_post(client, author)
    deprecating = app_with(deprecated_elsewhere())
    stats = deprecating.get(f"/api/users/{author.user['id']}/stats", headers=bearer(author.token))
    assert stats.status_code == 200
    assert stats.headers["Sunset"] == SUNSET
    assert stats.headers["Link"] == (
        '</api/openapi.json#/paths/~1users~1%7Bid%7D~1stats/get>; rel="deprecation"'
    )
    created = deprecating.post(
        "/api/posts",
        json={"title": "T", "content": "B", "status": "draft"},
        headers={**bearer(author.token), "Idempotency-Key": "k-1"},
    )
    assert created.status_code == 201, created.text
    links = created.headers["Link"].split(", ")
    assert '<https://x.test/d>; rel="deprecation"' in links
    assert '</api/openapi.json#/components/parameters/IdempotencyKey>; rel="deprecation"' in links
    plain = deprecating.get(f"/api/posts/{post['id']}")
    assert "Deprecation" not in plain.headers


def test_a_deprecation_without_a_sunset_is_refused_at_start_up():
    document = copy.deepcopy(CONTRACT.document)
    del document["components"]["parameters"]["Page"]["x-sunset"]
    with pytest.raises(ValueError, match="deprecated without x-deprecated-since and x-sunset"):
        Plans(Contract(document))
