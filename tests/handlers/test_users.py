"""The users operations over HTTP: every success and every documented error."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from limits import parse

from service.contract import Contract
from tests.builders import (
    MERGE_PATCH,
    PASSWORD,
    Account,
    account,
    bearer,
    create_user,
    error_of,
    if_match,
    log_in,
    user_payload,
)

CONTRACT = Contract.load()
AUTH_FAILURES = parse(CONTRACT.document["x-rate-limit-auth-failures"])
SIGN_UP_LIMIT = parse(CONTRACT.operations["create_user"]["x-rate-limit"])

UNKNOWN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def fields_of(error: dict) -> set[str]:
    return {detail["field"] for detail in error.get("details", [])}


class TestCreate:
    def test_sign_up_returns_the_user_with_location_and_request_id(self, client, admin):
        response = client.post(
            "/api/users",
            json={"name": "  Ada Lovelace ", "email": "Ada@Example.COM", "password": "x" * 8},
        )
        assert response.status_code == 201
        user = response.json()["data"]
        assert response.headers["location"] == f"/api/users/{user['id']}"
        assert len(response.headers["x-request-id"]) >= 16
        assert uuid.UUID(user["id"])
        assert user["name"] == "Ada Lovelace"
        assert user["email"] == "ada@example.com"
        assert user["role"] == "user"
        assert "password" not in user
        assert user["createdAt"] == user["updatedAt"]
        assert user["createdAt"].endswith("Z")
        read = client.get(response.headers["location"], headers=admin.headers)
        assert read.json()["data"] == user

    def test_every_invalid_field_is_listed(self, client):
        response = client.post(
            "/api/users",
            json={"name": "A", "email": "not-an-email", "role": "god", "password": "short", "x": 1},
        )
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert fields_of(error) == {"name", "email", "role", "password", "x"}
        assert all(detail["in"] == "body" for detail in error["details"])

    def test_a_rejected_password_is_never_echoed(self, client):
        error = error_of(client.post("/api/users", json=user_payload(password="hunter2")))
        assert error["details"] == [
            {"field": "password", "in": "body", "message": "the value is too short"}
        ]

    def test_messages_say_what_is_wrong_in_words(self, client):
        error = error_of(client.post("/api/users", json=user_payload(name=" x ", email="y" * 300)))
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
            ("password", "is required"),
        }

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"name": 42}, "name"),
            ({"name": None}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": "   a   "}, "name"),
            ({"name": "Bad\u0000Name"}, "name"),
            ({"name": "ab\n"}, "name"),
            ({"name": "a\u0085b"}, "name"),
            ({"email": "a" * 250 + "@b.io"}, "email"),
            ({"email": "a b@c.io"}, "email"),
            ({"password": "p" * 129}, "password"),
            ({"password": "nul\u0000in password"}, "password"),
        ],
    )
    def test_bad_values_are_rejected_and_nothing_is_written(self, client, admin, overrides, field):
        response = client.post("/api/users", json=user_payload(**overrides))
        assert response.status_code == 400
        assert fields_of(error_of(response)) == {field}
        listed = client.get("/api/users", headers=admin.headers).json()
        assert listed["pagination"]["total"] == 1  # the admin alone

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

    def test_email_is_unique_regardless_of_case(self, client, admin):
        create_user(client, email="grace@example.com")
        response = client.post("/api/users", json=user_payload(email="GRACE@example.com"))
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "CONFLICT"
        assert "grace@example.com" in error["message"]
        assert fields_of(error) == {"email"}
        listed = client.get("/api/users?search=grace", headers=admin.headers).json()
        assert listed["pagination"]["total"] == 1


class TestRolesOnCreate:
    def test_anonymous_sign_up_cannot_choose_a_role(self, client):
        response = client.post("/api/users", json=user_payload(role="admin"))
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "admin" in error_of(response)["message"]

    def test_anonymous_sign_up_may_state_the_default_role(self, client):
        assert create_user(client, role="user")["role"] == "user"

    def test_a_user_cannot_create_a_moderator(self, client):
        author = account(client)
        response = client.post(
            "/api/users", json=user_payload(role="moderator"), headers=author.headers
        )
        assert response.status_code == 403
        assert error_of(response)["code"] == "FORBIDDEN"

    def test_an_admin_creates_any_role(self, client, admin):
        assert create_user(client, admin.headers, role="admin")["role"] == "admin"


class TestRead:
    def test_get_returns_the_user(self, client, admin):
        user = create_user(client, admin.headers, role="moderator")
        response = client.get(f"/api/users/{user['id']}", headers=admin.headers)
        assert response.status_code == 200
        assert response.json() == {"data": user}

    def test_any_signed_in_user_may_read_another_without_their_email(self, client, admin):
        reader = account(client)
        response = client.get(f"/api/users/{admin.id}", headers=reader.headers)
        assert response.status_code == 200
        assert response.json()["data"] == {
            key: value for key, value in admin.user.items() if key != "email"
        }

    def test_reading_needs_a_token(self, client, admin):
        response = client.get(f"/api/users/{admin.id}")
        assert response.status_code == 401
        assert error_of(response)["code"] == "UNAUTHORIZED"

    def test_unknown_id_is_not_found(self, client, admin):
        response = client.get(f"/api/users/{UNKNOWN_ID}", headers=admin.headers)
        assert response.status_code == 404
        error = error_of(response)
        assert error == {"code": "NOT_FOUND", "message": f"User '{UNKNOWN_ID}' does not exist"}

    def test_malformed_id_is_a_validation_error(self, client, admin):
        error = error_of(client.get("/api/users/42", headers=admin.headers))
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"][0]["field"] == "id"
        assert error["details"][0]["in"] == "path"

    def test_me_is_the_caller(self, client):
        me = account(client)
        response = client.get("/api/me", headers=me.headers)
        assert response.status_code == 200
        assert response.json() == {"data": me.user}


class TestReplace:
    def test_admin_replaces_every_field(self, client, admin):
        user = create_user(client)
        url = f"/api/users/{user['id']}"
        response = client.put(
            url,
            json={
                "name": "New Name",
                "email": "NEW@example.com",
                "role": "admin",
                "currentPassword": PASSWORD,  # the admin's own
            },
            headers={**admin.headers, **if_match(client, url, admin.headers)},
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

    def test_a_user_replaces_themself_but_not_their_role(self, client):
        me = account(client)
        body = {"name": "Me Again", "email": me.user["email"], "role": "user"}
        url = f"/api/users/{me.id}"
        headers = {**me.headers, **if_match(client, url, me.headers)}
        response = client.put(url, json=body, headers=headers)
        assert response.status_code == 200
        headers = {**me.headers, **if_match(client, url, me.headers)}
        response = client.put(url, json={**body, "role": "admin"}, headers=headers)
        assert response.status_code == 403
        assert "role" in error_of(response)["message"]

    def test_put_requires_every_writable_field(self, client, admin):
        user = create_user(client)
        error = error_of(
            client.put(
                f"/api/users/{user['id']}",
                json={"name": "Only"},
                headers={**admin.headers, "If-Match": "*"},
            )
        )
        assert fields_of(error) == {"email", "role"}

    def test_put_on_unknown_id_is_not_found(self, client, admin):
        # A tag, as a PUT must send (`*` is a 428); no tag makes an unknown id a 412.
        response = client.put(
            f"/api/users/{UNKNOWN_ID}",
            json=user_payload(role="user"),
            headers={**admin.headers, "If-Match": '"1-0000000000000000"'},
        )
        assert response.status_code == 404

    def test_put_to_a_taken_email_conflicts_and_changes_nothing(self, client, admin):
        first = create_user(client)
        second = create_user(client)
        url = f"/api/users/{second['id']}"
        response = client.put(
            url,
            json={
                "name": "X Y",
                "email": first["email"].upper(),
                "role": "user",
                "currentPassword": PASSWORD,
            },
            headers={**admin.headers, **if_match(client, url, admin.headers)},
        )
        assert response.status_code == 409
        read = client.get(f"/api/users/{second['id']}", headers=admin.headers)
        assert read.json()["data"] == second


class TestUpdate:
    def test_merge_patch_changes_only_given_fields(self, client, admin):
        user = create_user(client)
        response = client.patch(
            f"/api/users/{user['id']}",
            json={"role": "moderator"},
            headers={**MERGE_PATCH, **admin.headers},
        )
        assert response.status_code == 200
        patched = response.json()["data"]
        assert patched["role"] == "moderator"
        assert (patched["name"], patched["email"]) == (user["name"], user["email"])

    def test_plain_json_is_unsupported(self, client):
        """A merge patch is not a JSON document to store: PATCH takes only its media type."""
        me = account(client)
        response = client.patch(f"/api/users/{me.id}", json={"name": "Renamed"}, headers=me.headers)
        assert response.status_code == 415
        assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert client.get("/api/me", headers=me.headers).json()["data"] == me.user

    def test_empty_patch_changes_nothing(self, client):
        me = account(client)
        response = client.patch(
            f"/api/users/{me.id}", json={}, headers={**MERGE_PATCH, **me.headers}
        )
        assert response.status_code == 200
        assert response.json()["data"] == me.user

    def test_null_cannot_remove_a_required_field(self, client):
        me = account(client)
        response = client.patch(
            f"/api/users/{me.id}", json={"name": None}, headers={**MERGE_PATCH, **me.headers}
        )
        assert response.status_code == 400
        assert fields_of(error_of(response)) == {"name"}

    @pytest.mark.usefixtures("admin")  # root@example.com is taken
    def test_patch_to_a_taken_email_conflicts(self, client):
        me = account(client)
        response = client.patch(
            f"/api/users/{me.id}",
            json={"email": "ROOT@example.com", "currentPassword": PASSWORD},
            headers={**MERGE_PATCH, **me.headers},
        )
        assert response.status_code == 409
        assert client.get("/api/me", headers=me.headers).json()["data"] == me.user

    def test_patch_with_another_media_type_is_unsupported(self, client):
        me = account(client)
        response = client.patch(
            f"/api/users/{me.id}",
            content=b"{}",
            headers={"content-type": "text/csv", **me.headers},
        )
        assert response.status_code == 415

    def test_a_user_cannot_change_another(self, client):
        me, other = account(client), account(client)
        response = client.patch(
            f"/api/users/{other.id}", json={"name": "Hijack"}, headers={**MERGE_PATCH, **me.headers}
        )
        assert response.status_code == 403
        assert error_of(response) == {
            "code": "FORBIDDEN",
            "message": "Only an admin or the user themself may do this",
        }

    def test_a_moderator_cannot_promote_themself(self, client, admin):
        moderator = account(client, admin, role="moderator")
        response = client.patch(
            f"/api/users/{moderator.id}",
            json={"role": "admin"},
            headers={**MERGE_PATCH, **moderator.headers},
        )
        assert response.status_code == 403
        response = client.patch(
            f"/api/users/{moderator.id}",
            json={"role": "moderator"},
            headers={**MERGE_PATCH, **moderator.headers},
        )
        assert response.status_code == 200

    def test_a_new_password_is_the_one_that_logs_in(self, client):
        me = account(client)
        new = "a brand new password"
        assert (
            client.patch(
                f"/api/users/{me.id}",
                json={"password": new, "currentPassword": PASSWORD},
                headers={**MERGE_PATCH, **me.headers},
            )
        ).status_code == 200
        credentials = {"email": me.user["email"], "password": new}
        assert client.post("/api/tokens", json=credentials).status_code == 201

    def test_the_last_admin_cannot_step_down(self, client, admin):
        response = client.patch(
            f"/api/users/{admin.id}",
            json={"role": "user"},
            headers={**MERGE_PATCH, **admin.headers},
        )
        assert response.status_code == 409
        assert "last admin" in error_of(response)["message"]


class TestDelete:
    def test_delete_removes_the_user(self, client, admin):
        user = create_user(client)
        response = client.delete(f"/api/users/{user['id']}", headers=admin.headers)
        assert response.status_code == 204
        assert response.content == b""
        assert "x-request-id" in response.headers
        assert client.get(f"/api/users/{user['id']}", headers=admin.headers).status_code == 404
        assert client.delete(f"/api/users/{user['id']}", headers=admin.headers).status_code == 404

    def test_a_user_may_delete_themself_and_their_token_dies(self, client):
        me = account(client)
        assert client.delete(f"/api/users/{me.id}", headers=me.headers).status_code == 204
        assert client.get("/api/me", headers=me.headers).status_code == 401

    def test_a_user_cannot_delete_another(self, client):
        me, other = account(client), account(client)
        assert client.delete(f"/api/users/{other.id}", headers=me.headers).status_code == 403
        assert client.get(f"/api/users/{other.id}", headers=me.headers).status_code == 200

    def test_the_last_admin_cannot_be_deleted(self, client, admin):
        response = client.delete(f"/api/users/{admin.id}", headers=admin.headers)
        assert response.status_code == 409
        second = account(client, admin, role="admin")
        assert client.delete(f"/api/users/{admin.id}", headers=second.headers).status_code == 204


def patch_me(client, me: Account, body: dict[str, Any]):
    return client.patch(f"/api/users/{me.id}", json=body, headers={**MERGE_PATCH, **me.headers})


def can_log_in(client, email: str, password: str) -> bool:
    response = client.post("/api/tokens", json={"email": email, "password": password})
    return response.status_code == 201


class TestCurrentPassword:
    """A new email or password needs the caller's current password: a token alone (a
    stolen one) cannot take the account over, nor probe which emails are registered."""

    @pytest.mark.parametrize(
        ("given", "message"),
        [
            ({}, "is required to change 'email'"),
            ({"currentPassword": "not my password"}, "is not the caller's current password"),
        ],
    )
    def test_a_new_email_without_the_right_password_is_refused(self, client, given, message):
        me = account(client)
        response = patch_me(client, me, {"email": "new.address@example.com", **given})
        assert response.status_code == 403
        assert error_of(response) == {
            "code": "FORBIDDEN",
            "message": "Changing 'email' needs the caller's current password",
            "details": [{"field": "currentPassword", "in": "body", "message": message}],
        }
        assert client.get("/api/me", headers=me.headers).json()["data"] == me.user

    @pytest.mark.parametrize("given", [{}, {"currentPassword": "not my password"}])
    def test_a_new_password_without_the_right_password_is_refused(self, client, given):
        me = account(client)
        other = log_in(client, me.user["email"])
        response = patch_me(client, me, {"password": "taken over now", **given})
        assert response.status_code == 403
        assert error_of(response)["details"][0]["field"] == "currentPassword"
        assert can_log_in(client, me.user["email"], PASSWORD)
        assert not can_log_in(client, me.user["email"], "taken over now")
        assert client.get("/api/me", headers=bearer(other)).status_code == 200  # not signed out

    def test_the_right_password_changes_email_and_password(self, client):
        me = account(client)
        body = {"email": "New.Address@example.com", "password": "a new passphrase"}
        response = patch_me(client, me, {**body, "currentPassword": PASSWORD})
        assert response.status_code == 200
        assert response.json()["data"]["email"] == "new.address@example.com"
        assert can_log_in(client, "new.address@example.com", "a new passphrase")
        assert not can_log_in(client, "new.address@example.com", PASSWORD)

    @pytest.mark.usefixtures("admin")  # root@example.com is taken
    def test_a_taken_email_is_not_told_without_the_password(self, client):
        """Before: 409 for a registered address and 200 for another, to any token."""
        me = account(client)
        taken = patch_me(client, me, {"email": "root@example.com"})
        free = patch_me(client, me, {"email": "nobody.here@example.com"})
        assert taken.status_code == free.status_code == 403
        assert error_of(taken) == error_of(free)

    def test_a_put_needs_it_only_when_the_email_changes(self, client):
        me = account(client)
        url = f"/api/users/{me.id}"
        same = {"name": "Same Email", "email": me.user["email"].upper(), "role": "user"}
        response = client.put(
            url, json=same, headers={**me.headers, **if_match(client, url, me.headers)}
        )
        assert response.status_code == 200
        moved = {**same, "email": "moved@example.com"}
        headers = {**me.headers, **if_match(client, url, me.headers)}
        assert client.put(url, json=moved, headers=headers).status_code == 403
        moved["currentPassword"] = PASSWORD
        response = client.put(url, json=moved, headers=headers)
        assert response.status_code == 200
        assert response.json()["data"]["email"] == "moved@example.com"

    def test_other_changes_need_no_password(self, client):
        me = account(client)
        response = patch_me(client, me, {"name": "Just A Name", "email": me.user["email"]})
        assert response.status_code == 200
        assert response.json()["data"]["name"] == "Just A Name"

    def test_a_wrong_one_is_refused_even_when_not_needed(self, client):
        me = account(client)
        response = patch_me(client, me, {"name": "Just A Name", "currentPassword": "wrong one!"})
        assert response.status_code == 403
        assert client.get("/api/me", headers=me.headers).json()["data"] == me.user

    def test_an_admin_confirms_with_their_own_password(self, client, admin):
        user = account(client)
        url = f"/api/users/{user.id}"
        headers = {**MERGE_PATCH, **admin.headers}
        theirs = {"email": "by.admin@example.com", "currentPassword": "their own password"}
        new_password = {"password": theirs["currentPassword"], "currentPassword": PASSWORD}
        assert client.patch(url, json=new_password, headers=headers).status_code == 200
        assert (
            client.patch(url, json={"email": "by.admin@example.com"}, headers=headers).status_code
            == 403
        )
        assert client.patch(url, json=theirs, headers=headers).status_code == 403
        mine = {"email": "by.admin@example.com", "currentPassword": PASSWORD}
        response = client.patch(url, json=mine, headers=headers)
        assert response.status_code == 200
        assert response.json()["data"]["email"] == "by.admin@example.com"

    def test_wrong_ones_count_as_failed_credentials(self, client, app_with):
        api = app_with(ratelimit_enabled=True)
        me = account(client)
        wrong = {"email": "new.address@example.com", "currentPassword": "guessing again"}
        statuses = [patch_me(api, me, wrong).status_code for _ in range(AUTH_FAILURES.amount + 1)]
        assert statuses == [403] * AUTH_FAILURES.amount + [429]
        right = patch_me(api, me, {**wrong, "currentPassword": PASSWORD})
        assert right.status_code == 429  # refused unchecked until the window ends
        assert error_of(right)["code"] == "RATE_LIMITED"
        assert client.get("/api/me", headers=me.headers).json()["data"] == me.user

    def test_email_changes_share_the_sign_up_limit_of_the_address(self, client, app_with):
        """Before: 120 email changes a minute, each telling whether an address is taken."""
        api = app_with(ratelimit_enabled=True)
        me = account(client)
        statuses = [
            patch_me(
                api, me, {"email": f"move{n}@example.com", "currentPassword": PASSWORD}
            ).status_code
            for n in range(SIGN_UP_LIMIT.amount + 1)
        ]
        assert statuses == [200] * SIGN_UP_LIMIT.amount + [429]
        refused = patch_me(api, me, {"email": "one.more@example.com", "currentPassword": PASSWORD})
        assert error_of(refused)["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        assert client.get("/api/me", headers=me.headers).json()["data"]["email"] == (
            f"move{SIGN_UP_LIMIT.amount - 1}@example.com"
        )
        signing_up = api.post("/api/users", json=user_payload())  # the same bucket
        assert signing_up.status_code == 429
        assert patch_me(api, me, {"name": "Only A Name"}).status_code == 200
