"""Deleting a user with content: refused with the reason, or cascaded whole by an admin."""

from __future__ import annotations

from tests.builders import account, create_comment, create_post, error_of
from tests.database import count_rows


def rows(url: str) -> dict[str, int]:
    return {table: count_rows(url, table) for table in ("users", "posts", "comments", "tokens")}


def test_a_user_with_content_is_kept_and_the_reason_given(client, database_url):
    author = account(client)
    post = create_post(client, author, status="published")
    create_comment(client, author, post["id"])
    before = rows(database_url)
    response = client.delete(f"/api/users/{author.id}", headers=author.headers)
    assert response.status_code == 409
    error = error_of(response)
    assert "1 post(s) and 1 comment(s)" in error["message"]
    assert "cascade=true" in error["message"]
    assert rows(database_url) == before


def test_only_an_admin_may_cascade(client):
    author = account(client)
    create_post(client, author)
    response = client.delete(f"/api/users/{author.id}?cascade=true", headers=author.headers)
    assert response.status_code == 403
    assert "cascade" in error_of(response)["message"]


def test_cascade_removes_everything_of_the_user_and_nothing_else(client, admin, database_url):
    author, other = account(client), account(client)
    own = create_post(client, author, status="published")
    kept = create_post(client, other, status="published")
    create_comment(client, other, own["id"])  # on the author's post: goes with it
    create_comment(client, author, kept["id"])  # by the author elsewhere: goes too
    survivor = create_comment(client, other, kept["id"])
    response = client.delete(f"/api/users/{author.id}?cascade=true", headers=admin.headers)
    assert response.status_code == 204
    assert rows(database_url) == {"users": 2, "posts": 1, "comments": 1, "tokens": 2}
    assert client.get(f"/api/comments/{survivor['id']}").status_code == 200
    assert client.get(f"/api/posts/{kept['id']}").json()["data"]["commentCount"] == 1


def test_a_failed_cascade_changes_nothing(client, admin, database_url):
    """The last admin cannot go: the posts deleted before that check come back."""
    create_post(client, admin, status="published")
    before = rows(database_url)
    response = client.delete(f"/api/users/{admin.id}?cascade=true", headers=admin.headers)
    assert response.status_code == 409
    assert rows(database_url) == before
