"""A user's statistics: drafts for the user themself, moderators and admins only."""

from __future__ import annotations

import uuid

from tests.builders import account, create_comment, create_post, error_of


def _stats(client, who, user_id):
    response = client.get(f"/api/users/{user_id}/stats", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _writer_with_history(client):
    """Two published posts and a draft; comments on each, and one written elsewhere."""
    writer, reader = account(client), account(client)
    first = create_post(client, writer, status="published")
    second = create_post(client, writer, status="published")
    draft = create_post(client, writer)
    create_comment(client, reader, first["id"])
    create_comment(client, reader, second["id"])
    create_comment(client, writer, draft["id"])  # on their own draft
    elsewhere = create_post(client, reader, status="published")
    create_comment(client, writer, elsewhere["id"])
    return writer, reader


def test_the_user_themself_sees_everything(client):
    writer, _ = _writer_with_history(client)
    assert _stats(client, writer, writer.id) == {
        "userId": writer.id,
        "posts": 3,
        "published": 2,
        "drafts": 1,
        "commentsWritten": 2,
        "commentsReceived": 3,
    }


def test_moderators_and_admins_see_drafts_too(client, admin):
    writer, _ = _writer_with_history(client)
    moderator = account(client, admin, role="moderator")
    for who in (moderator, admin):
        stats = _stats(client, who, writer.id)
        assert stats["drafts"] == 1
        assert stats["posts"] == 3


def test_others_see_published_counts_only(client):
    writer, reader = _writer_with_history(client)
    assert _stats(client, reader, writer.id) == {
        "userId": writer.id,
        "posts": 2,
        "published": 2,
        "commentsWritten": 1,
        "commentsReceived": 2,
    }


def test_a_user_with_nothing_has_zeros(client):
    someone = account(client)
    stats = _stats(client, someone, someone.id)
    assert stats == {
        "userId": someone.id,
        "posts": 0,
        "published": 0,
        "drafts": 0,
        "commentsWritten": 0,
        "commentsReceived": 0,
    }


def test_an_unknown_user_is_a_404_and_a_token_is_needed(client):
    someone = account(client)
    response = client.get(f"/api/users/{uuid.uuid4()}/stats", headers=someone.headers)
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"
    assert client.get(f"/api/users/{someone.id}/stats").status_code == 401


def test_one_statement_whatever_the_number_of_posts(app, client):
    from service.app import runtime_of
    from tests.database import statements_run

    writer, _ = _writer_with_history(client)
    for _ in range(5):
        create_post(client, writer, status="published")
    with statements_run(runtime_of(app).database.engine) as statements:
        _stats(client, writer, writer.id)
    stats_queries = [s for s in statements if "count" in s.sql.lower()]
    assert len(stats_queries) == 1, [s.sql for s in statements]
