"""Comments nested under posts: who may write, edit and delete, and hidden drafts."""

from __future__ import annotations

from tests.builders import MERGE_PATCH, account, create_comment, create_post, error_of

UNKNOWN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def test_comment_flow(client):
    author, commenter = account(client), account(client, name="Carl Commenter")
    post = create_post(client, author, status="published")
    response = client.post(
        f"/api/posts/{post['id']}/comments", json={"body": "First!"}, headers=commenter.headers
    )
    assert response.status_code == 201
    comment = response.json()["data"]
    assert response.headers["location"] == f"/api/comments/{comment['id']}"
    assert comment["postId"] == post["id"]
    assert comment["author"] == {"id": commenter.id, "name": "Carl Commenter"}
    assert client.get(f"/api/comments/{comment['id']}").json()["data"] == comment

    listed = client.get(f"/api/posts/{post['id']}/comments")
    assert listed.status_code == 200
    assert listed.json()["data"] == [comment]
    assert listed.json()["pagination"]["total"] == 1
    assert listed.headers["link"].startswith(f"</api/posts/{post['id']}/comments?")


def test_comments_are_oldest_first_and_searchable(client):
    author = account(client)
    post = create_post(client, author, status="published")
    made = [create_comment(client, author, post["id"], body) for body in ("one", "two", "three")]
    data = client.get(f"/api/posts/{post['id']}/comments").json()["data"]
    assert [c["id"] for c in data] == [c["id"] for c in made]
    found = client.get(f"/api/posts/{post['id']}/comments?search=TWO").json()["data"]
    assert [c["body"] for c in found] == ["two"]


def test_commenting_needs_a_token_and_a_valid_body(client):
    author = account(client)
    post = create_post(client, author, status="published")
    url = f"/api/posts/{post['id']}/comments"
    assert client.post(url, json={"body": "x"}).status_code == 401
    response = client.post(url, json={"body": "", "extra": 1}, headers=author.headers)
    assert response.status_code == 400
    assert {d["field"] for d in error_of(response)["details"]} == {"body", "extra"}
    too_long = client.post(url, json={"body": "x" * 5001}, headers=author.headers)
    assert too_long.status_code == 400


def test_a_draft_hides_its_comments_and_takes_none_from_strangers(client):
    author, stranger = account(client), account(client)
    draft = create_post(client, author)
    comment = create_comment(client, author, draft["id"])
    url = f"/api/posts/{draft['id']}/comments"
    assert client.post(url, json={"body": "hi"}, headers=stranger.headers).status_code == 404
    assert client.get(url, headers=stranger.headers).status_code == 404
    assert client.get(f"/api/comments/{comment['id']}").status_code == 404
    assert client.get(f"/api/comments/{comment['id']}", headers=author.headers).status_code == 200


def test_comment_on_unknown_post_is_not_found(client):
    author = account(client)
    response = client.post(
        f"/api/posts/{UNKNOWN_ID}/comments", json={"body": "x"}, headers=author.headers
    )
    assert response.status_code == 404
    assert error_of(response)["message"] == f"Post '{UNKNOWN_ID}' does not exist"


def test_only_the_comments_author_edits_it(client, admin):
    author, commenter = account(client), account(client)
    post = create_post(client, author, status="published")
    comment = create_comment(client, commenter, post["id"])
    url = f"/api/comments/{comment['id']}"
    for other in (author, admin):
        refused = client.patch(
            url, json={"body": "edited"}, headers={**MERGE_PATCH, **other.headers}
        )
        assert refused.status_code == 403
    edited = client.patch(
        url, json={"body": "edited"}, headers={**MERGE_PATCH, **commenter.headers}
    )
    assert edited.status_code == 200
    assert edited.json()["data"]["body"] == "edited"
    assert edited.json()["data"]["updatedAt"] > comment["updatedAt"]
    assert (
        client.patch(
            url, json={"body": None}, headers={**MERGE_PATCH, **commenter.headers}
        ).status_code
        == 400
    )


def test_who_may_delete_a_comment(client, admin):
    author, commenter, stranger = account(client), account(client), account(client)
    moderator = account(client, admin, role="moderator")
    post = create_post(client, author, status="published")
    for deleter in (commenter, author, moderator, admin):
        comment = create_comment(client, commenter, post["id"])
        url = f"/api/comments/{comment['id']}"
        assert client.delete(url, headers=stranger.headers).status_code == 403
        response = client.delete(url, headers=deleter.headers)
        assert response.status_code == 204
        assert client.get(url).status_code == 404
    assert client.get(f"/api/posts/{post['id']}").json()["data"]["commentCount"] == 0
