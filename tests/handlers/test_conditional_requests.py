"""ETag, If-None-Match and If-Match (RFC 9110 §13) on users, posts and comments."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from tests.builders import MERGE_PATCH, account, create_comment, create_post, error_of
from tests.database import count_rows, run_sql
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV


@pytest.fixture
def post_url(client) -> tuple[str, dict[str, str]]:
    author = account(client)
    return f"/api/posts/{create_post(client, author, status='published')['id']}", author.headers


def tag_of(client, url: str, headers: dict[str, str]) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    tag = response.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    return tag


class TestReads:
    def test_if_none_match_with_the_current_tag_is_304_without_a_body(self, client, post_url):
        url, headers = post_url
        tag = tag_of(client, url, headers)
        for sent in (tag, f'"other", {tag}', f"W/{tag}", "*"):
            response = client.get(url, headers={**headers, "If-None-Match": sent})
            assert response.status_code == 304, sent
            assert response.content == b""
            assert response.headers["ETag"] == tag
        stale = client.get(url, headers={**headers, "If-None-Match": '"1-0000000000000000"'})
        assert stale.status_code == 200
        assert stale.json()["data"]["id"] == url.rsplit("/", 1)[1]

    def test_every_change_of_the_representation_changes_the_tag(self, client, post_url):
        url, headers = post_url
        before = tag_of(client, url, headers)
        create_comment(client, account(client), url.rsplit("/", 1)[1])  # commentCount moves
        after_comment = tag_of(client, url, headers)
        assert after_comment != before
        patched = client.patch(url, json={"title": "New"}, headers={**headers, **MERGE_PATCH})
        assert patched.headers["ETag"] == tag_of(client, url, headers) != after_comment

    def test_a_users_tag_depends_on_who_reads_it(self, client, admin):
        user = account(client)
        url = f"/api/users/{user.id}"
        own = tag_of(client, url, user.headers)
        assert tag_of(client, "/api/me", user.headers) == own
        assert tag_of(client, url, admin.headers) == own  # the same fields, email included
        assert tag_of(client, url, account(client).headers) != own  # without the email

    def test_creates_and_writes_answer_the_tag_a_read_gives(self, client):
        author = account(client)
        created = client.post(
            "/api/posts", json={"title": "t", "content": "c"}, headers=author.headers
        )
        url = created.headers["Location"]
        assert created.headers["ETag"] == tag_of(client, url, author.headers)
        comment = client.post(f"{url}/comments", json={"body": "b"}, headers=author.headers)
        assert comment.headers["ETag"] == tag_of(
            client, comment.headers["Location"], author.headers
        )
        user = client.post(
            "/api/users",
            json={
                "name": "New One",
                "email": "new.one@example.com",
                "password": "long enough pass",
            },
        )
        assert user.status_code == 201 and user.headers["ETag"].startswith('"1-')


class TestWrites:
    @pytest.mark.parametrize("kind", ["post", "comment", "user"])
    def test_a_stale_tag_is_412_and_nothing_is_written(self, client, kind):
        author = account(client)
        post = create_post(client, author)
        url = {
            "post": f"/api/posts/{post['id']}",
            "comment": f"/api/comments/{create_comment(client, author, post['id'])['id']}",
            "user": f"/api/users/{author.id}",
        }[kind]
        field = {"post": "title", "comment": "body", "user": "name"}[kind]
        stale = tag_of(client, url, author.headers)
        first = client.patch(
            url, json={field: "First"}, headers={**author.headers, **MERGE_PATCH, "If-Match": stale}
        )
        assert first.status_code == 200
        for method, body in (("PATCH", {field: "Second"}), ("DELETE", None)):
            headers = {**author.headers, "If-Match": stale}
            if body:
                headers |= MERGE_PATCH
            refused = client.request(method, url, json=body, headers=headers)
            assert refused.status_code == 412, refused.text
            assert error_of(refused)["code"] == "PRECONDITION_FAILED"
        current = client.get(url, headers=author.headers)
        assert current.json()["data"][field] == "First"
        assert current.headers["ETag"] == first.headers["ETag"]

    def test_a_weak_or_unknown_tag_never_matches_but_star_does(self, client, post_url):
        url, headers = post_url
        tag = tag_of(client, url, headers)
        for sent in (f"W/{tag}", '"nonsense"', "bogus"):
            response = client.patch(
                url, json={"title": "x"}, headers={**headers, **MERGE_PATCH, "If-Match": sent}
            )
            assert response.status_code == 412, sent
        star = client.patch(
            url, json={"title": "x"}, headers={**headers, **MERGE_PATCH, "If-Match": "*"}
        )
        assert star.status_code == 200

    def test_delete_with_the_current_tag_deletes(self, client, post_url):
        url, headers = post_url
        tag = tag_of(client, url, headers)
        assert client.delete(url, headers={**headers, "If-Match": tag}).status_code == 204
        assert client.get(url, headers=headers).status_code == 404

    def test_put_without_if_match_is_428_and_changes_nothing(self, client, post_url):
        url, headers = post_url
        body = {"title": "Replaced", "content": "c", "status": "draft"}
        response = client.put(url, json=body, headers=headers)
        assert response.status_code == 428
        assert error_of(response)["code"] == "PRECONDITION_REQUIRED"
        assert client.get(url, headers=headers).json()["data"]["title"] != "Replaced"

    def test_if_match_must_be_a_short_header(self, client, post_url):
        url, headers = post_url
        response = client.patch(
            url, json={"title": "x"}, headers={**headers, **MERGE_PATCH, "If-Match": "x" * 1025}
        )
        assert response.status_code == 400

    def test_every_write_moves_the_version_on(self, client, database_url, post_url):
        url, headers = post_url
        post_id = url.rsplit("/", 1)[1]
        client.patch(url, json={"title": "a"}, headers={**headers, **MERGE_PATCH})
        client.patch(url, json={"title": "b"}, headers={**headers, **MERGE_PATCH})
        rows = run_sql(database_url, "SELECT version FROM posts WHERE id = :id", id=post_id)
        stored = rows[0][0] if rows else None
        if stored is None:  # SQLite keeps UUIDs as 32 hex digits
            stored = run_sql(
                database_url,
                "SELECT version FROM posts WHERE id = :id",
                id=post_id.replace("-", ""),
            )[0][0]
        assert stored == 3
        assert tag_of(client, url, headers).startswith('"3-')


def unkeyed_tag(version: int, document: dict[str, Any]) -> str:
    """The tag anyone could compute from a representation: SHA-256 of its canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'"{version}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"'


class TestKeyedTags:
    def test_a_tag_does_not_confirm_a_guessed_hidden_email_offline(self, client):
        user = account(client)
        url = f"/api/users/{user.id}"
        own_tag = tag_of(client, url, user.headers)  # seen in a proxy's log, say
        public = client.get(url, headers=account(client).headers).json()["data"]
        assert "email" not in public
        version = int(own_tag.strip('"').split("-")[0])
        guesses = [f"guess{n}@example.com" for n in range(3)] + [user.user["email"]]
        confirmed = [
            guess
            for guess in guesses
            if unkeyed_tag(version, {**public, "email": guess}) == own_tag
        ]
        assert confirmed == []

    def test_a_tag_is_not_the_unkeyed_digest_of_what_was_shown(self, client, post_url):
        url, headers = post_url
        response = client.get(url, headers=headers)
        assert response.headers["ETag"] != unkeyed_tag(1, response.json()["data"])

    def test_apps_with_different_secrets_tag_the_same_row_differently(self, app_with):
        first = app_with(app_secret="a" * 32)
        second = app_with(app_secret="b" * 32)
        author = account(first)
        url = f"/api/posts/{create_post(first, author, status='published')['id']}"
        assert tag_of(first, url, author.headers) != tag_of(second, url, author.headers)

    def test_a_tag_is_the_same_in_every_request_and_every_app_of_one_secret(
        self, client, app_with, post_url
    ):
        """Two apps on one database, as two workers or instances are, with no APP_SECRET:
        both find the secret kept in the database."""
        url, headers = post_url
        other = app_with()
        tags = {tag_of(api, url, headers) for api in (client, other, client, other)}
        assert len(tags) == 1
        tag = tags.pop()
        response = other.get(url, headers={**headers, "If-None-Match": tag})
        assert response.status_code == 304
        patched = other.patch(
            url, json={"title": "x"}, headers={**headers, **MERGE_PATCH, "If-Match": tag}
        )
        assert patched.status_code == 200
        assert tag_of(client, url, headers) == patched.headers["ETag"]


REPLACEMENT = {"title": "Replaced", "content": "c", "status": "draft"}


class TestStarPreconditions:
    """`*` in `If-Match` and `If-None-Match` (RFC 9110 §13.1.1, §13.1.2)."""

    @pytest.mark.parametrize("sent", ["*", '*, "1-0000000000000000"'])
    def test_a_put_with_if_match_star_is_428_and_changes_nothing(self, client, post_url, sent):
        url, headers = post_url
        response = client.put(url, json=REPLACEMENT, headers={**headers, "If-Match": sent})
        assert response.status_code == 428, response.text
        error = error_of(response)
        assert error["code"] == "PRECONDITION_REQUIRED"
        assert "*" in error["message"]
        assert client.get(url, headers=headers).json()["data"]["title"] != "Replaced"

    def test_a_user_put_with_if_match_star_is_428(self, client):
        user = account(client)
        body = {"name": "Replaced Name", "email": user.user["email"], "role": "user"}
        response = client.put(
            f"/api/users/{user.id}", json=body, headers={**user.headers, "If-Match": "*"}
        )
        assert response.status_code == 428, response.text
        assert error_of(response)["code"] == "PRECONDITION_REQUIRED"

    @pytest.mark.parametrize("kind", ["post", "comment", "user"])
    def test_if_none_match_star_on_a_write_of_an_existing_resource_is_412(self, client, kind):
        author = account(client)
        post = create_post(client, author)
        url = {
            "post": f"/api/posts/{post['id']}",
            "comment": f"/api/comments/{create_comment(client, author, post['id'])['id']}",
            "user": f"/api/users/{author.id}",
        }[kind]
        field = {"post": "title", "comment": "body", "user": "name"}[kind]
        before = client.get(url, headers=author.headers)
        tag = before.headers["ETag"]
        writes = [
            ("PATCH", {field: "Changed"}, {**MERGE_PATCH}),
            ("PATCH", {field: "Changed"}, {**MERGE_PATCH, "If-Match": tag}),
            ("DELETE", None, {}),
        ]
        if kind != "comment":
            replacement = (
                REPLACEMENT
                if kind == "post"
                else {"name": "Changed Name", "email": author.user["email"], "role": "user"}
            )
            writes.append(("PUT", replacement, {"If-Match": tag}))
        for method, body, extra in writes:
            headers = {**author.headers, **extra, "If-None-Match": "*"}
            refused = client.request(method, url, json=body, headers=headers)
            assert refused.status_code == 412, (method, refused.text)
            assert error_of(refused)["code"] == "PRECONDITION_FAILED"
            assert "If-None-Match" in error_of(refused)["message"]
        after = client.get(url, headers=author.headers)
        assert after.headers["ETag"] == tag
        assert after.json() == before.json()

    def test_if_none_match_with_the_current_tag_on_a_write_is_412_another_tag_passes(
        self, client, post_url
    ):
        url, headers = post_url
        tag = tag_of(client, url, headers)
        for sent in (tag, f"W/{tag}", f'"1-0000000000000000", {tag}'):
            refused = client.patch(
                url, json={"title": "x"}, headers={**headers, **MERGE_PATCH, "If-None-Match": sent}
            )
            assert refused.status_code == 412, sent
        passed = client.patch(
            url,
            json={"title": "x"},
            headers={**headers, **MERGE_PATCH, "If-None-Match": '"1-0000000000000000"'},
        )
        assert passed.status_code == 200, passed.text

    def test_if_none_match_star_on_an_unknown_resource_is_404(self, client, post_url):
        _, headers = post_url
        url = "/api/posts/0b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10"
        response = client.patch(
            url, json={"title": "x"}, headers={**headers, **MERGE_PATCH, "If-None-Match": "*"}
        )
        assert response.status_code == 404

    def test_if_none_match_star_on_a_create_is_412_and_creates_nothing(self, client, database_url):
        author = account(client)
        post = create_post(client, author, status="published")
        creates = [
            ("/api/posts", {"title": "t", "content": "c"}, author.headers),
            (f"/api/posts/{post['id']}/comments", {"body": "b"}, author.headers),
            (
                "/api/users",
                {"name": "Star Create", "email": "star@example.com", "password": "long enough pw"},
                {},
            ),
        ]
        tables = ("posts", "comments", "users")
        counts = {table: count_rows(database_url, table) for table in tables}
        for url, body, headers in creates:
            star = {**headers, "If-None-Match": "*", "Idempotency-Key": f"star-{url}"}
            refused = client.post(url, json=body, headers=star)
            assert refused.status_code == 412, (url, refused.text)
            assert "Idempotency-Key" in error_of(refused)["message"]
        assert {table: count_rows(database_url, table) for table in counts} == counts
        for url, body, headers in creates:
            tagged = {**headers, "If-None-Match": '"1-0000000000000000"'}
            assert client.post(url, json=body, headers=tagged).status_code == 201, url

    def test_if_none_match_star_on_a_comment_of_a_hidden_post_is_404(self, client):
        author = account(client)
        draft = create_post(client, author, status="draft")
        response = client.post(
            f"/api/posts/{draft['id']}/comments",
            json={"body": "b"},
            headers={**account(client).headers, "If-None-Match": "*"},
        )
        assert response.status_code == 404


@pytest.mark.usefixtures("clean_database")
def test_tags_and_cursors_hold_across_the_workers_of_a_served_app(database_url):
    """`make serve` with two workers and no APP_SECRET: each worker reads the secret kept
    in the database, so a tag or cursor one worker made is the one the other makes and
    accepts (each request on a new connection, spread over the workers)."""
    env = {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", **FAST_HASHING_ENV}
    with running_server(env, workers=2) as base:

        def fresh() -> httpx.Client:
            return httpx.Client(base_url=base, timeout=10)

        with fresh() as http:
            author = account(http)
            post_ids = [create_post(http, author, status="published")["id"] for _ in range(3)]
        url = f"/api/posts/{post_ids[0]}"
        tags: set[str] = set()
        cursors: set[str] = set()
        for _ in range(12):
            with fresh() as http:
                tags.add(http.get(url, headers=author.headers).headers["ETag"])
                page = http.get("/api/posts?sortBy=title&limit=1").json()["pagination"]
                cursors.add(page["nextCursor"])
        assert len(tags) == 1
        assert len(cursors) == 1
        (tag,), (cursor,) = tags, cursors
        for _ in range(6):
            with fresh() as http:
                revalidated = http.get(url, headers={**author.headers, "If-None-Match": tag})
                assert revalidated.status_code == 304
                walked = http.get(f"/api/posts?sortBy=title&limit=1&cursor={cursor}")
                assert walked.status_code == 200, walked.text
