"""A header the contract declares as one value, sent on several lines, is refused; a
list-valued one is read, and validated, as its lines joined (RFC 9110 §5.3)."""

from __future__ import annotations

import pytest

from service.contract import Contract
from service.plan import Plans
from tests.builders import account, create_post, error_of, user_payload
from tests.database import count_rows

TWICE = "is given more than once"


def twice(name: str, first: str, second: str) -> list[tuple[str, str]]:
    return [(name, first), (name, second)]


def test_two_long_idempotency_keys_are_refused_and_nothing_is_kept(client, database_url):
    """Validation read the first line, the handler both joined by a comma: a key of over
    255 characters, holding a comma, stored (PostgreSQL: a 500 on its varchar(255))."""
    headers = twice("Idempotency-Key", "a" * 200, "b" * 200)
    response = client.post("/api/users", json=user_payload(), headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == [{"field": "Idempotency-Key", "in": "header", "message": TWICE}]
    assert count_rows(database_url, "idempotency_keys") == 0
    assert count_rows(database_url, "users") == 0


def test_every_one_value_header_given_twice_is_refused_at_once(client):
    user = account(client)
    headers = [
        ("Authorization", user.headers["Authorization"]),
        *twice("Idempotency-Key", "k-1", "k-2"),
        ("Authorization", "Bearer another"),
    ]
    response = client.post("/api/posts", json={"title": "t", "content": "c"}, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["details"] == [
        {"field": "Authorization", "in": "header", "message": TWICE},
        {"field": "Idempotency-Key", "in": "header", "message": TWICE},
    ]


def test_prefer_lines_are_one_list_whose_first_count_counts(client):
    """RFC 7240: of a preference given twice, the first instance is the one."""
    response = client.get("/api/posts", headers=twice("Prefer", "count=exact", "count=planned"))
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "count=exact"
    response = client.get("/api/posts", headers=twice("Prefer", "a" * 190, "count=exact"))
    assert response.status_code == 400
    assert [d["field"] for d in error_of(response)["details"]] == ["Prefer"]


def test_a_valid_token_given_twice_is_a_400_not_a_pass(client):
    """Connexion checked the first line; Flask saw `Bearer a,Bearer a`."""
    user = account(client)
    token = user.headers["Authorization"]
    response = client.get("/api/me", headers=twice("Authorization", token, token))
    assert response.status_code == 400
    assert error_of(response)["details"] == [
        {"field": "Authorization", "in": "header", "message": TWICE}
    ]


def test_authorization_is_not_read_where_no_token_is_taken(client):
    response = client.get("/api/health", headers=twice("Authorization", "Bearer a", "Bearer b"))
    assert response.status_code == 200


def test_list_header_lines_are_validated_as_the_list_they_make(client):
    """Each line within maxLength, the list they make over it: validated as read."""
    author = account(client)
    post = create_post(client, author, status="published")
    url = f"/api/posts/{post['id']}"
    long_tags = twice("If-None-Match", '"' + "a" * 600 + '"', '"' + "b" * 600 + '"')
    response = client.get(url, headers=long_tags)
    assert response.status_code == 400
    assert [(d["field"], d["in"]) for d in error_of(response)["details"]] == [
        ("If-None-Match", "header")
    ]
    tag = client.get(url).headers["ETag"]
    assert client.get(url, headers=twice("If-None-Match", '"old"', tag)).status_code == 304
    stale = twice("If-Match", '"old"', '"older"')
    patch = {"Content-Type": "application/merge-patch+json"}
    response = client.patch(
        url, content=b'{"title": "x"}', headers=[*author.headers.items(), *patch.items(), *stale]
    )
    assert response.status_code == 412
    response = client.patch(
        url,
        content=b'{"title": "x"}',
        headers=[*author.headers.items(), *patch.items(), *twice("If-Match", '"old"', tag)],
    )
    assert response.status_code == 200


def test_the_plans_come_from_the_contract():
    plans = Plans(Contract.load())
    create_user = plans["create_user"]
    assert set(create_user.one_value_headers.values()) == {
        "Authorization",
        "Idempotency-Key",
        "X-Request-ID",
    }
    assert create_user.list_headers == frozenset({b"if-none-match"})
    assert set(plans["get_health"].one_value_headers.values()) == {"X-Request-ID"}
    assert plans["update_post"].list_headers == frozenset({b"if-match", b"if-none-match"})


@pytest.mark.parametrize("name", ["Idempotency-Key", "X-Request-ID"])
def test_one_line_of_each_still_works(client, name):
    response = client.post("/api/users", json=user_payload(), headers={name: "one-value"})
    assert response.status_code == 201


# Lists in their RFCs (RFC 9110 §13.1.1-2, RFC 7240 §2), whose lines a recipient may join.
LIST_FIELDS = {"if-match", "if-none-match", "prefer"}


def test_every_declared_list_field_is_marked_a_list():
    """A header the RFCs make a list, declared without `x-list`, would be refused on
    two lines, which a client may send."""
    contract = Contract.load()
    for operation_id in contract.operations:
        for parameter in contract.parameters_of(operation_id):
            if parameter["in"] == "header":
                is_list = parameter["name"].lower() in LIST_FIELDS
                assert bool(parameter.get("x-list")) == is_list, (operation_id, parameter)
