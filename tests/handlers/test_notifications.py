"""Notifications: written with the comment, the caller's own, marked read, gone with what
they point at."""

from __future__ import annotations

import uuid

from tests.builders import account, create_comment, create_post, error_of
from tests.database import count_rows


def _list(client, who, **query):
    response = client.get("/api/notifications", params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_comment_on_your_post_notifies_you_who_what_when_and_where(client):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published", title="On engines")
    comment = create_comment(client, reader, post["id"], "Nice one")
    body = _list(client, author)
    assert body["pagination"]["total"] == 1
    [notification] = body["data"]
    assert notification["type"] == "comment"
    assert notification["actor"] == {"id": reader.id, "name": reader.user["name"]}
    assert notification["postId"] == post["id"]
    assert notification["postTitle"] == "On engines"
    assert notification["commentId"] == comment["id"]
    assert notification["read"] is False
    assert notification["createdAt"] == comment["createdAt"]
    assert _list(client, reader)["data"] == []  # the commenter is told nothing


def test_your_own_comment_on_your_own_post_notifies_nobody(client, database_url):
    author = account(client)
    post = create_post(client, author, status="published")
    create_comment(client, author, post["id"])
    assert _list(client, author)["data"] == []
    assert count_rows(database_url, "notifications") == 0


def test_newest_first_paginated_and_filtered_by_unread_and_comment(client):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    comments = [create_comment(client, reader, post["id"], f"Comment {n}") for n in range(3)]
    body = _list(client, author, limit=2)
    assert [n["commentId"] for n in body["data"]] == [comments[2]["id"], comments[1]["id"]]
    pagination = body["pagination"]
    assert pagination.pop("nextCursor")  # a second page follows
    assert pagination == {"page": 1, "limit": 2, "total": 3, "totalPages": 2, "totalKind": "exact"}
    assert _list(client, author, commentId=comments[0]["id"])["pagination"]["total"] == 1
    assert _list(client, author, search="Comment 1")["data"][0]["commentId"] == comments[1]["id"]
    response = client.post(
        "/api/notifications/read",
        json={"ids": [_list(client, author, commentId=comments[0]["id"])["data"][0]["id"]]},
        headers=author.headers,
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"changed": 1}}
    assert _list(client, author, unread="true")["pagination"]["total"] == 2
    assert _list(client, author, unread="false")["pagination"]["total"] == 1
    response = client.get("/api/notifications?unread=true&limit=1", headers=author.headers)
    assert "unread=true" in response.headers["link"]


def test_marking_all_read_counts_only_those_that_changed(client):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    for _ in range(3):
        create_comment(client, reader, post["id"])
    mark = {"headers": author.headers}
    assert client.post("/api/notifications/read", json={"all": True}, **mark).json() == {
        "data": {"changed": 3}
    }
    assert client.post("/api/notifications/read", json={"all": True}, **mark).json() == {
        "data": {"changed": 0}
    }
    assert _list(client, author, unread="true")["pagination"]["total"] == 0


def test_another_users_ids_are_a_404_and_nothing_changes(client):
    author, other, reader = account(client), account(client), account(client)
    post = create_post(client, author, status="published")
    other_post = create_post(client, other, status="published")
    create_comment(client, reader, post["id"])
    create_comment(client, reader, other_post["id"])
    mine = _list(client, author)["data"][0]["id"]
    theirs = _list(client, other)["data"][0]["id"]
    unknown = str(uuid.uuid4())
    response = client.post(
        "/api/notifications/read", json={"ids": [mine, theirs, unknown]}, headers=author.headers
    )
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "NOT_FOUND"
    assert [d["field"] for d in error["details"]] == ["ids.1", "ids.2"]
    assert _list(client, author, unread="true")["pagination"]["total"] == 1  # not even mine
    assert _list(client, other, unread="true")["pagination"]["total"] == 1


def test_the_body_is_ids_or_all_never_both_nor_neither(client):
    author = account(client)
    for body in ({}, {"all": False}, {"ids": []}, {"all": True, "ids": [str(uuid.uuid4())]}):
        response = client.post("/api/notifications/read", json=body, headers=author.headers)
        assert response.status_code == 400, body
        assert error_of(response)["code"] == "VALIDATION_ERROR"


def test_notifications_need_a_token(client):
    assert client.get("/api/notifications").status_code == 401
    assert client.post("/api/notifications/read", json={"all": True}).status_code == 401


def test_deleting_the_comment_removes_its_notification(client, database_url):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    comment = create_comment(client, reader, post["id"])
    kept = create_comment(client, reader, post["id"])
    assert (
        client.delete(f"/api/comments/{comment['id']}", headers=reader.headers).status_code == 204
    )
    assert [n["commentId"] for n in _list(client, author)["data"]] == [kept["id"]]
    assert count_rows(database_url, "notifications") == 1


def test_deleting_the_post_removes_its_notifications(client, database_url):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    other = create_post(client, author, status="published")
    create_comment(client, reader, post["id"])
    create_comment(client, reader, other["id"])
    assert client.delete(f"/api/posts/{post['id']}", headers=author.headers).status_code == 204
    assert [n["postId"] for n in _list(client, author)["data"]] == [other["id"]]
    assert count_rows(database_url, "notifications") == 1


def test_deleting_a_user_removes_the_notifications_of_and_about_them(client, admin, database_url):
    author, reader, bystander = account(client), account(client), account(client)
    post = create_post(client, author, status="published")
    create_comment(client, reader, post["id"])
    create_comment(client, bystander, post["id"])
    response = client.delete(
        f"/api/users/{reader.id}", params={"cascade": "true"}, headers=admin.headers
    )
    assert response.status_code == 204
    assert [n["actor"]["id"] for n in _list(client, author)["data"]] == [bystander.id]
    response = client.delete(
        f"/api/users/{author.id}", params={"cascade": "true"}, headers=admin.headers
    )
    assert response.status_code == 204
    assert count_rows(database_url, "notifications") == 0


def test_walking_by_cursor_repeats_and_skips_nothing_while_comments_arrive(client):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    first = [create_comment(client, reader, post["id"], f"Old {n}")["id"] for n in range(5)]
    seen: list[str] = []
    body = _list(client, author, limit=2)
    made_for_all = body["pagination"]["nextCursor"]
    while True:
        seen += [n["commentId"] for n in body["data"]]
        create_comment(client, reader, post["id"], "New")  # newer: ahead of the walk
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            break
        body = _list(client, author, limit=2, cursor=cursor)
    assert seen == list(reversed(first))
    # A cursor is bound to the filters it was made for.
    other_filter = client.get(
        "/api/notifications",
        params={"cursor": made_for_all, "limit": 2, "unread": "true"},
        headers=author.headers,
    )
    assert other_filter.status_code == 400
    assert error_of(other_filter)["details"][0]["field"] == "cursor"


def test_no_total_counts_another_users_notifications(app_with):
    """Not counted, not estimated, whatever `Prefer: count=` says (the exact-count cap is
    passed for the recipient)."""
    api = app_with(count_exact_limit=2)
    author, reader, nobody = account(api), account(api), account(api)
    post = create_post(api, author, status="published")
    for n in range(4):
        create_comment(api, reader, post["id"], f"Comment {n}")
    over = []
    for who, seen in ((nobody, 0), (reader, 0), (author, 4)):
        for preference in (None, "count=exact", "count=planned", "count=estimated"):
            headers = who.headers | ({"Prefer": preference} if preference else {})
            response = api.get("/api/notifications?limit=1", headers=headers)
            assert response.status_code == 200, response.text
            pagination = response.json()["pagination"]
            if pagination["total"] > seen or pagination["totalPages"] > seen:
                over.append((who.user["name"], preference, pagination["total"], seen))
    assert over == [], "totals above the caller's own notifications"
