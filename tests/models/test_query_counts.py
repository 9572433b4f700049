"""No N+1: a page of 50 posts (authors and comment counts included) is a fixed number of
SQL statements, counted on the real engine."""

from __future__ import annotations

from service.app import runtime_of
from tests.builders import account, create_comment, create_post
from tests.database import statements_run


def test_a_page_of_50_posts_is_two_statements(app, client):
    """The page (authors and comment counts joined in) and its count; one more post than
    the page, so that the count is needed."""
    authors = [account(client) for _ in range(5)]
    for n in range(51):
        post = create_post(client, authors[n % 5], status="published")
        if n % 10 == 0:
            create_comment(client, authors[0], post["id"])
    with statements_run(runtime_of(app).database.engine) as statements:
        response = client.get("/api/posts?limit=50")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 50
    assert {p["author"]["name"] for p in response.json()["data"]} == {
        a.user["name"] for a in authors
    }
    assert sum(p["commentCount"] for p in response.json()["data"]) == 5
    assert len(statements) == 2, statements
    # A first page that holds every match is counted from itself.
    with statements_run(runtime_of(app).database.engine) as statements:
        response = client.get("/api/posts?limit=60")
    assert response.json()["pagination"]["total"] == 51
    assert len(statements) == 1, statements


def test_a_users_page_of_posts_does_not_grow_with_the_page(app, client):
    author = account(client)
    for _ in range(50):
        create_post(client, author, status="published")
    with statements_run(runtime_of(app).database.engine) as statements:
        response = client.get(f"/api/users/{author.id}/posts?limit=50", headers=author.headers)
    assert len(response.json()["data"]) == 50
    # the user's existence, the token, the page, the count
    assert len(statements) <= 4, statements
