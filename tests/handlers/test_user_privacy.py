"""A user's email is shown only to the user themself and to admins (OWASP API3)."""

from __future__ import annotations

import pytest

from tests.builders import account, error_of

PUBLIC_FIELDS = {"id", "name", "role", "createdAt", "updatedAt"}


@pytest.fixture
def people(client, admin):
    return {
        "user": account(client),
        "moderator": account(client, admin, role="moderator"),
        "admin": admin,
        "subject": account(client, name="Subject Person"),
    }


@pytest.mark.parametrize("role", ["user", "moderator"])
def test_others_see_public_fields_only(client, people, role):
    reader, subject = people[role], people["subject"]
    data = client.get(f"/api/users/{subject.id}", headers=reader.headers).json()["data"]
    assert set(data) == PUBLIC_FIELDS
    assert data["name"] == "Subject Person"


@pytest.mark.parametrize("role", ["subject", "admin"])
def test_the_user_and_admins_see_the_email(client, people, role):
    subject = people["subject"]
    data = client.get(f"/api/users/{subject.id}", headers=people[role].headers).json()["data"]
    assert data["email"] == subject.user["email"]
    assert (
        client.get("/api/me", headers=subject.headers).json()["data"]["email"]
        == (subject.user["email"])
    )


@pytest.mark.parametrize("role", ["user", "moderator", "admin"])
def test_lists_show_emails_to_admins_and_to_oneself_only(client, people, role):
    reader = people[role]
    items = client.get("/api/users?limit=100", headers=reader.headers).json()["data"]
    assert len(items) == 4
    for item in items:
        if role == "admin" or item["id"] == reader.id:
            assert set(item) == PUBLIC_FIELDS | {"email"}
        else:
            assert set(item) == PUBLIC_FIELDS


def test_only_admins_search_emails(client, people):
    domain = people["subject"].user["email"].split("@")[1]
    as_user = client.get(f"/api/users?search={domain}", headers=people["user"].headers)
    assert as_user.json()["data"] == []
    as_admin = client.get(f"/api/users?search={domain}", headers=people["admin"].headers)
    assert len(as_admin.json()["data"]) == 4


def test_only_admins_sort_by_email(client, people):
    response = client.get("/api/users?sortBy=email", headers=people["moderator"].headers)
    assert response.status_code == 403
    assert error_of(response) == {
        "code": "FORBIDDEN",
        "message": "Only an admin may use 'sortBy=email'",
    }
    assert client.get("/api/users?sortBy=name", headers=people["user"].headers).status_code == 200
    assert client.get("/api/users?sortBy=email", headers=people["admin"].headers).status_code == 200
