"""The users operations over HTTP: every success and every documented error."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest

from tests.builders import create_user, error_of, user_payload

UNKNOWN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def fields_of(error: dict) -> set[str]:
    return {detail["field"] for detail in error.get("details", [])}


class TestCreate:
    def test_created_user_is_returned_with_location_and_request_id(self, client):
        response = client.post(
            "/api/users", json={"name": "  Ada Lovelace ", "email": "Ada@Example.COM"}
        )
        assert response.status_code == 201
        user = response.json()["data"]
        assert response.headers["location"] == f"/api/users/{user['id']}"
        assert len(response.headers["x-request-id"]) >= 16
        assert uuid.UUID(user["id"])
        assert user["name"] == "Ada Lovelace"
        assert user["email"] == "ada@example.com"
        assert user["role"] == "user"
        assert user["createdAt"] == user["updatedAt"]
        assert user["createdAt"].endswith("Z")
        assert client.get(response.headers["location"]).json()["data"] == user

    def test_every_invalid_field_is_listed(self, client):
        response = client.post(
            "/api/users", json={"name": "A", "email": "not-an-email", "role": "god", "x": 1}
        )
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert fields_of(error) == {"name", "email", "role", "x"}
        assert all(detail["in"] == "body" for detail in error["details"])

    def test_messages_say_what_is_wrong_in_words(self, client):
        error = error_of(client.post("/api/users", json={"name": " x ", "email": "y" * 300}))
        messages = {(d["field"], d["message"]) for d in error["details"]}
        assert (
            "name",
            "' x ' must have at least 2 characters besides surrounding spaces, "
            "and no control characters",
        ) in messages
        assert all(len(message) <= 200 for _, message in messages)

    def test_missing_fields_are_named(self, client):
        error = error_of(client.post("/api/users", json={}))
        assert error["code"] == "VALIDATION_ERROR"
        assert {(d["field"], d["message"]) for d in error["details"]} == {
            ("name", "is required"),
            ("email", "is required"),
        }

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": 42, "email": "a@b.io"}, "name"),
            ({"name": None, "email": "a@b.io"}, "name"),
            ({"name": "x" * 101, "email": "a@b.io"}, "name"),
            ({"name": "   a   ", "email": "a@b.io"}, "name"),
            ({"name": "Bad\u0000Name", "email": "a@b.io"}, "name"),
            ({"name": "Ann", "email": "a" * 250 + "@b.io"}, "email"),
            ({"name": "Ann", "email": "a b@c.io"}, "email"),
        ],
    )
    def test_bad_values_are_rejected(self, client, body, field):
        response = client.post("/api/users", json=body)
        assert response.status_code == 400
        assert fields_of(error_of(response)) == {field}
        assert client.get("/api/users").json()["pagination"]["total"] == 0

    def test_a_body_that_is_not_an_object_is_rejected(self, client):
        error = error_of(client.post("/api/users", json=["a"]))
        assert error["code"] == "VALIDATION_ERROR"
        assert fields_of(error) == {"$"}

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            (b'{"name": "Ann",', "Expecting"),
            (b"\xff\xfe{}", "utf-8"),
            (b'{"name": "\\ud800x", "email": "a@b.io"}', "surrogate"),
            (b"[" * 100_000 + b"]" * 100_000, "nested"),
        ],
    )
    def test_unparseable_json_is_invalid_json(self, client, raw, reason):
        response = client.post(
            "/api/users", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "INVALID_JSON"
        assert reason in error["message"]

    def test_missing_body_is_a_validation_error(self, client):
        response = client.post("/api/users", headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert error_of(response)["code"] == "VALIDATION_ERROR"

    def test_non_json_body_is_unsupported(self, client):
        response = client.post(
            "/api/users", content=b"name=Ann", headers={"content-type": "text/plain"}
        )
        assert response.status_code == 415
        assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"

    def test_email_is_unique_regardless_of_case(self, client):
        create_user(client, email="grace@example.com")
        response = client.post("/api/users", json=user_payload(email="GRACE@example.com"))
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "CONFLICT"
        assert "grace@example.com" in error["message"]
        assert fields_of(error) == {"email"}
        assert client.get("/api/users").json()["pagination"]["total"] == 1


class TestRead:
    def test_get_returns_the_user(self, client):
        user = create_user(client, role="moderator")
        response = client.get(f"/api/users/{user['id']}")
        assert response.status_code == 200
        assert response.json() == {"data": user}

    def test_unknown_id_is_not_found(self, client):
        response = client.get(f"/api/users/{UNKNOWN_ID}")
        assert response.status_code == 404
        error = error_of(response)
        assert error == {"code": "NOT_FOUND", "message": f"User '{UNKNOWN_ID}' does not exist"}

    def test_malformed_id_is_a_validation_error(self, client):
        error = error_of(client.get("/api/users/42"))
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"][0]["field"] == "id"
        assert error["details"][0]["in"] == "path"


class TestReplace:
    def test_put_replaces_every_field(self, client):
        user = create_user(client)
        response = client.put(
            f"/api/users/{user['id']}",
            json={"name": "New Name", "email": "NEW@example.com", "role": "admin"},
        )
        assert response.status_code == 200
        replaced = response.json()["data"]
        assert (replaced["name"], replaced["email"], replaced["role"]) == (
            "New Name",
            "new@example.com",
            "admin",
        )
        assert replaced["createdAt"] == user["createdAt"]
        assert replaced["updatedAt"] > user["updatedAt"]

    def test_put_requires_every_writable_field(self, client):
        user = create_user(client)
        error = error_of(client.put(f"/api/users/{user['id']}", json={"name": "Only Name"}))
        assert fields_of(error) == {"email", "role"}

    def test_put_on_unknown_id_is_not_found(self, client):
        response = client.put(f"/api/users/{UNKNOWN_ID}", json=user_payload(role="user"))
        assert response.status_code == 404

    def test_put_to_a_taken_email_conflicts_and_changes_nothing(self, client):
        first = create_user(client)
        second = create_user(client)
        response = client.put(
            f"/api/users/{second['id']}",
            json={"name": "X Y", "email": first["email"].upper(), "role": "user"},
        )
        assert response.status_code == 409
        assert client.get(f"/api/users/{second['id']}").json()["data"] == second


class TestUpdate:
    MERGE_PATCH: ClassVar[dict[str, str]] = {"content-type": "application/merge-patch+json"}

    def test_merge_patch_changes_only_given_fields(self, client):
        user = create_user(client)
        response = client.patch(
            f"/api/users/{user['id']}", json={"role": "moderator"}, headers=self.MERGE_PATCH
        )
        assert response.status_code == 200
        patched = response.json()["data"]
        assert patched["role"] == "moderator"
        assert (patched["name"], patched["email"]) == (user["name"], user["email"])

    def test_plain_json_is_accepted_too(self, client):
        user = create_user(client)
        response = client.patch(f"/api/users/{user['id']}", json={"name": "Renamed"})
        assert response.status_code == 200
        assert response.json()["data"]["name"] == "Renamed"

    def test_empty_patch_changes_nothing(self, client):
        user = create_user(client)
        response = client.patch(f"/api/users/{user['id']}", json={}, headers=self.MERGE_PATCH)
        assert response.status_code == 200
        assert response.json()["data"] == user

    def test_null_cannot_remove_a_required_field(self, client):
        user = create_user(client)
        response = client.patch(
            f"/api/users/{user['id']}", json={"name": None}, headers=self.MERGE_PATCH
        )
        assert response.status_code == 400
        assert fields_of(error_of(response)) == {"name"}

    def test_patch_to_a_taken_email_conflicts(self, client):
        first = create_user(client)
        second = create_user(client)
        response = client.patch(f"/api/users/{second['id']}", json={"email": first["email"]})
        assert response.status_code == 409
        assert client.get(f"/api/users/{second['id']}").json()["data"]["email"] == second["email"]

    def test_patch_with_another_media_type_is_unsupported(self, client):
        user = create_user(client)
        response = client.patch(
            f"/api/users/{user['id']}", content=b"{}", headers={"content-type": "text/csv"}
        )
        assert response.status_code == 415


class TestDelete:
    def test_delete_removes_the_user(self, client):
        user = create_user(client)
        response = client.delete(f"/api/users/{user['id']}")
        assert response.status_code == 204
        assert response.content == b""
        assert "x-request-id" in response.headers
        assert client.get(f"/api/users/{user['id']}").status_code == 404
        assert client.delete(f"/api/users/{user['id']}").status_code == 404
