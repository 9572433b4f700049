"""Listing users: pages, totals, links, search and a stable order.

The admin who lists is a user too, so every total counts them.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.builders import create_user, error_of


@pytest.fixture
def api(client, admin):
    client.headers.update(admin.headers)
    return client


def links_of(response) -> dict[str, dict[str, str]]:
    """`rel` -> query of that link, from an RFC 8288 Link header (but the link to what
    replaces deprecated page numbers: tests/service/test_deprecation.py)."""
    links = {}
    for url, rel in re.findall(r'<([^>]*)>; rel="([a-z]+)"', response.headers["link"]):
        if rel == "deprecation":
            continue
        query = parse_qs(urlsplit(url).query)
        links[rel] = {key: values[0] for key, values in query.items()}
        assert urlsplit(url).path == "/api/users"
    return links


def test_listing_needs_a_token(client):
    response = client.get("/api/users")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "UNAUTHORIZED"


def test_empty_page(api):
    response = api.get("/api/users?search=nobody-matches")
    assert response.status_code == 200
    assert response.json() == {
        "data": [],
        "pagination": {
            "page": 1,
            "limit": 20,
            "total": 0,
            "totalPages": 0,
            "totalKind": "exact",
            "nextCursor": None,
        },
    }
    assert set(links_of(response)) == {"first", "last"}


def test_pages_totals_and_links(api):
    for _ in range(4):
        create_user(api)
    response = api.get("/api/users?page=2&limit=2&sortBy=name&order=asc")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["pagination"].pop("nextCursor"), str)
    assert body["pagination"] == {
        "page": 2,
        "limit": 2,
        "total": 5,
        "totalPages": 3,
        "totalKind": "exact",
    }
    assert len(body["data"]) == 2
    links = links_of(response)
    assert {rel: query["page"] for rel, query in links.items()} == {
        "first": "1",
        "prev": "1",
        "next": "3",
        "last": "3",
    }
    assert all(q["limit"] == "2" and q["sortBy"] == "name" for q in links.values())


def test_last_page_has_no_next(api):
    for _ in range(2):
        create_user(api)
    response = api.get("/api/users?page=2&limit=2")
    assert len(response.json()["data"]) == 1
    assert "next" not in links_of(response)


def test_equal_sort_keys_never_repeat_or_skip_rows(api):
    created = {create_user(api, name="Same Name")["id"] for _ in range(7)}
    for order in ("asc", "desc"):
        seen: list[str] = []
        for page in (1, 2, 3):
            response = api.get(
                f"/api/users?search=same&sortBy=name&order={order}&limit=3&page={page}"
            )
            seen += [user["id"] for user in response.json()["data"]]
        assert len(seen) == 7
        assert set(seen) == created
        assert seen == sorted(seen, reverse=order == "desc")


def test_sort_by_email_ascending(api):
    for email in ("c@example.com", "a@example.com", "b@example.com"):
        create_user(api, email=email)
    data = api.get("/api/users?sortBy=email&order=asc").json()["data"]
    assert [user["email"] for user in data] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "root@example.com",
    ]


def test_default_order_is_newest_first(api, admin):
    ids = [create_user(api)["id"] for _ in range(3)]
    data = api.get("/api/users").json()["data"]
    assert [user["id"] for user in data] == [*reversed(ids), admin.id]


def test_search_is_a_case_insensitive_substring_of_name_or_email(api):
    create_user(api, name="Grace Hopper", email="grace@navy.mil")
    create_user(api, name="Alan Turing", email="alan@bletchley.uk")
    create_user(api, name="Percent 100%", email="p@example.com")

    def names(query: str) -> set[str]:
        return {u["name"] for u in api.get(f"/api/users?{query}").json()["data"]}

    assert names("search=HOPPER") == {"Grace Hopper"}
    assert names("search=bletchley") == {"Alan Turing"}
    assert names("search=100%25") == {"Percent 100%"}
    assert names("search=___") == set()  # `_` matches itself, not any character
    response = api.get("/api/users?search=PER&limit=1")
    assert response.json()["pagination"]["total"] == 2
    assert links_of(response)["next"]["search"] == "PER"


def test_out_of_range_parameters_list_every_problem(api):
    response = api.get("/api/users?page=0&limit=101&sortBy=age&order=up&colour=red")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert {(d["field"], d["in"]) for d in error["details"]} == {
        ("page", "query"),
        ("limit", "query"),
        ("sortBy", "query"),
        ("order", "query"),
        ("colour", "query"),
    }


def test_non_integer_page_is_a_validation_error(api):
    error = error_of(api.get("/api/users?page=two"))
    assert error["details"] == [
        {"field": "page", "in": "query", "message": "'two' is not of type 'integer'"}
    ]
