"""A new password or role ends a user's other sessions; deleting a user ends them all."""

from __future__ import annotations

import pytest

from tests.builders import MERGE_PATCH, PASSWORD, Account, account, error_of, if_match, log_in

NEW_PASSWORD = "another long passphrase"


def status_of(client, token: str) -> int:
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


def second_session(client, user: Account) -> str:
    return log_in(client, user.user["email"])


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_changing_ones_password_revokes_every_other_token(client, method):
    user = account(client)
    other = second_session(client, user)
    third = second_session(client, user)
    body = {"password": NEW_PASSWORD, "currentPassword": PASSWORD}
    if method == "PUT":
        body |= {key: user.user[key] for key in ("name", "email", "role")}
    headers = user.headers | (MERGE_PATCH if method == "PATCH" else {})
    if method == "PUT":
        headers |= if_match(client, f"/api/users/{user.id}", user.headers)
    response = client.request(method, f"/api/users/{user.id}", json=body, headers=headers)
    assert response.status_code == 200
    assert status_of(client, user.token) == 200  # the one the change was made with
    for token in (other, third):
        response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert error_of(response)["message"] == "The token has been revoked"
    assert status_of(client, log_in(client, user.user["email"], NEW_PASSWORD)) == 200


def test_an_admin_changing_someones_password_revokes_all_of_theirs(client, admin):
    user = account(client)
    other = second_session(client, user)
    response = client.patch(
        f"/api/users/{user.id}",
        json={"password": NEW_PASSWORD, "currentPassword": PASSWORD},  # the admin's own
        headers=admin.headers | MERGE_PATCH,
    )
    assert response.status_code == 200
    assert [status_of(client, token) for token in (user.token, other)] == [401, 401]
    assert status_of(client, admin.token) == 200


def test_an_admin_changing_someones_role_revokes_all_of_theirs(client, admin):
    user = account(client)
    response = client.patch(
        f"/api/users/{user.id}", json={"role": "moderator"}, headers=admin.headers | MERGE_PATCH
    )
    assert response.status_code == 200
    assert status_of(client, user.token) == 401
    assert status_of(client, admin.token) == 200


def test_other_changes_keep_sessions(client, admin):
    user = account(client)
    other = second_session(client, user)
    response = client.patch(
        f"/api/users/{user.id}", json={"name": "New Name"}, headers=user.headers | MERGE_PATCH
    )
    assert response.status_code == 200
    response = client.patch(
        f"/api/users/{user.id}", json={"role": "user"}, headers=admin.headers | MERGE_PATCH
    )
    assert response.status_code == 200  # the same role: nothing changed
    assert [status_of(client, token) for token in (user.token, other)] == [200, 200]


def test_a_refused_change_revokes_nothing(client):
    user = account(client)
    taken = account(client)
    other = second_session(client, user)
    response = client.patch(
        f"/api/users/{user.id}",
        json={"password": NEW_PASSWORD, "email": taken.user["email"], "currentPassword": PASSWORD},
        headers=user.headers | MERGE_PATCH,
    )
    assert response.status_code == 409
    assert status_of(client, other) == 200
    assert status_of(client, log_in(client, user.user["email"], PASSWORD)) == 200


def test_deleting_a_user_ends_all_their_sessions(client, admin):
    user = account(client)
    other = second_session(client, user)
    assert client.delete(f"/api/users/{user.id}", headers=admin.headers).status_code == 204
    assert [status_of(client, token) for token in (user.token, other)] == [401, 401]


def test_a_refused_current_password_revokes_nothing(client):
    user = account(client)
    other = second_session(client, user)
    response = client.patch(
        f"/api/users/{user.id}",
        json={"password": NEW_PASSWORD, "currentPassword": "not the password"},
        headers=user.headers | MERGE_PATCH,
    )
    assert response.status_code == 403
    assert [status_of(client, token) for token in (user.token, other)] == [200, 200]
