"""ETag, If-None-Match and If-Match (RFC 9110 §13) on users, posts and comments."""

from __future__ import annotations

import pytest

from tests.builders import MERGE_PATCH, account, create_comment, create_post, error_of
from tests.database import run_sql


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
