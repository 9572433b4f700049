"""Logging in and out, and every way a token can be refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.builders import PASSWORD, account, bearer, create_user, error_of, log_in
from tests.database import expire_all_tokens, run_sql


def test_the_whole_flow(client):
    user = create_user(client, email="flow@example.com")
    response = client.post("/api/tokens", json={"email": "FLOW@example.com", "password": PASSWORD})
    assert response.status_code == 201
    assert response.headers["location"] == "/api/tokens/current"
    issued = response.json()["data"]
    assert len(issued["token"]) >= 43
    assert datetime.fromisoformat(issued["expiresAt"]) > datetime.now(UTC) + timedelta(days=6)

    me = client.get("/api/me", headers=bearer(issued["token"]))
    assert me.status_code == 200
    assert me.json()["data"]["id"] == user["id"]

    out = client.delete("/api/tokens/current", headers=bearer(issued["token"]))
    assert out.status_code == 204
    assert out.content == b""

    refused = client.get("/api/me", headers=bearer(issued["token"]))
    assert refused.status_code == 401
    assert error_of(refused) == {"code": "UNAUTHORIZED", "message": "The token has been revoked"}


def test_logging_out_one_token_keeps_the_others(client):
    first = account(client)
    second_token = log_in(client, first.user["email"])
    assert client.delete("/api/tokens/current", headers=first.headers).status_code == 204
    assert client.get("/api/me", headers=bearer(second_token)).status_code == 200


def test_wrong_email_and_wrong_password_are_the_same_401(client):
    create_user(client, email="known@example.com")
    wrong_password = client.post(
        "/api/tokens", json={"email": "known@example.com", "password": "not it at all"}
    )
    wrong_email = client.post(
        "/api/tokens", json={"email": "unknown@example.com", "password": PASSWORD}
    )
    for response in (wrong_password, wrong_email):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert error_of(wrong_password) == error_of(wrong_email)
    assert error_of(wrong_email)["message"] == "Email or password is wrong"


def test_credentials_are_validated(client):
    response = client.post("/api/tokens", json={"email": "a@b.io"})
    assert response.status_code == 400
    assert error_of(response)["details"] == [
        {"field": "password", "in": "body", "message": "is required"}
    ]


def test_a_user_without_a_password_cannot_log_in(client, database_url):
    create_user(client, email="nopass@example.com")
    run_sql(database_url, "UPDATE users SET password_hash = NULL")
    response = client.post(
        "/api/tokens", json={"email": "nopass@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401


def test_an_expired_token_is_refused(client, database_url):
    me = account(client)
    expire_all_tokens(database_url)
    response = client.get("/api/me", headers=me.headers)
    assert response.status_code == 401
    assert error_of(response)["message"] == "The token has expired"


def test_last_use_is_recorded(client, database_url):
    me = account(client)
    client.get("/api/me", headers=me.headers)
    [(used,)] = run_sql(database_url, "SELECT last_used_at FROM tokens")
    assert used is not None
