"""Every operation of the API through the generated Python client, as a client team writes it.

    PYTHONPATH=build/sdk/python python tests/sdk/client_program.py http://127.0.0.1:PORT

`make test` type-checks this file with `mypy --strict` against the generated client (which
fails if the contract makes the client's types wrong, such as a plain `Client` refused
for sign-up), then runs it against a live server; it exits 0 only if every answer is
the one the contract promises.
"""

from __future__ import annotations

import sys
import uuid
from http import HTTPStatus
from typing import Any, TypeVar

from publishing_api_client import AuthenticatedClient, Client
from publishing_api_client.api.comments import (
    create_post_comment,
    delete_comment,
    get_comment,
    list_post_comments,
    update_comment,
)
from publishing_api_client.api.dashboard import get_dashboard
from publishing_api_client.api.health import get_health, get_readiness
from publishing_api_client.api.notifications import list_notifications, mark_notifications_read
from publishing_api_client.api.posts import (
    create_post,
    delete_post,
    get_post,
    list_posts,
    list_user_posts,
    replace_post,
    update_post,
)
from publishing_api_client.api.stats import get_user_stats
from publishing_api_client.api.tokens import create_token, revoke_token
from publishing_api_client.api.users import (
    create_user,
    delete_user,
    get_me,
    get_user,
    list_users,
    replace_user,
    update_user,
)
from publishing_api_client.models import (
    CommentCreate,
    CommentEnvelope,
    CommentList,
    CommentPatch,
    Credentials,
    DashboardEnvelope,
    Error,
    ErrorCode,
    ErrorEnvelope,
    HealthEnvelope,
    NotificationList,
    NotificationsRead,
    NotificationsReadEnvelope,
    PostCreate,
    PostEnvelope,
    PostList,
    PostPatch,
    PostReplace,
    PostSortField,
    PostStatus,
    ReadinessEnvelope,
    Role,
    SortOrder,
    TokenEnvelope,
    TotalKind,
    UserCreate,
    UserEnvelope,
    UserList,
    UserPatch,
    UserReplace,
    UserSortField,
    UserStatsEnvelope,
    UserViewEnvelope,
)
from publishing_api_client.types import Response, Unset

T = TypeVar("T")
PASSWORD = "sdk program password"


def expect(parsed: object, kind: type[T]) -> T:
    """The parsed body, if it is what the contract promises for this call."""
    if not isinstance(parsed, kind):
        raise AssertionError(f"expected {kind.__name__}, got {parsed!r}")
    return parsed


def error_of(response: Response[Any], status: HTTPStatus) -> Error:
    """The typed `Error` of an error response with this status."""
    assert response.status_code == status, (response.status_code, response.content)
    return expect(response.parsed, ErrorEnvelope).error


def no_content(response: Response[Any]) -> None:
    assert response.status_code == HTTPStatus.NO_CONTENT, (response.status_code, response.content)
    assert response.content == b""


def sign_up(anyone: Client, api: str, name: str) -> tuple[uuid.UUID, AuthenticatedClient, str]:
    """A new user (with a plain, unauthenticated client) and a client logged in as them."""
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@example.com"
    body = UserCreate(name=name, email=email, password=PASSWORD)
    user = expect(create_user.sync(client=anyone, body=body), UserEnvelope).data
    assert (user.name, user.email, user.role) == (name, email, Role.USER)
    credentials = Credentials(email=email, password=PASSWORD)
    token = expect(create_token.sync(client=anyone, body=credentials), TokenEnvelope).data
    return user.id, AuthenticatedClient(base_url=api, token=token.token), email


def users(anyone: Client, api: str) -> AuthenticatedClient:
    health = expect(get_health.sync(client=anyone), HealthEnvelope).data
    ready = expect(get_readiness.sync(client=anyone), ReadinessEnvelope).data
    assert ready.status.value == "ready"
    assert health.status.value == "ok"

    invalid = create_user.sync_detailed(
        client=anyone, body=UserCreate(name="A", email="nope", password="short")
    )
    error = error_of(invalid, HTTPStatus.BAD_REQUEST)
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert {detail.field for detail in error.details or []} == {"name", "email", "password"}

    ada_id, ada, email = sign_up(anyone, api, "Ada Lovelace")
    me = expect(get_me.sync(client=ada), UserEnvelope).data
    assert me.id == ada_id
    assert expect(get_user.sync(ada_id, client=ada), UserViewEnvelope).data.email == email

    read = get_user.sync_detailed(ada_id, client=ada)
    unchanged = get_user.sync_detailed(ada_id, client=ada, if_none_match=read.headers["etag"])
    assert (unchanged.status_code, unchanged.content) == (HTTPStatus.NOT_MODIFIED, b"")
    replace = UserReplace(name="Ada King", email=email, role=Role.USER)
    unconditional = replace_user.sync_detailed(ada_id, client=ada, body=replace, if_match="")
    assert unconditional.status_code == HTTPStatus.BAD_REQUEST  # an empty tag is malformed
    replaced = replace_user.sync_detailed(
        ada_id, client=ada, body=replace, if_match=read.headers["etag"]
    )
    assert expect(replaced.parsed, UserEnvelope).data.name == "Ada King"
    stale = replace_user.sync_detailed(
        ada_id, client=ada, body=replace, if_match=read.headers["etag"]
    )
    assert error_of(stale, HTTPStatus.PRECONDITION_FAILED).code is ErrorCode.PRECONDITION_FAILED
    patched = update_user.sync(ada_id, client=ada, body=UserPatch(name="Ada Lovelace"))
    assert expect(patched, UserEnvelope).data.name == "Ada Lovelace"
    promoted = update_user.sync_detailed(ada_id, client=ada, body=UserPatch(role=Role.ADMIN))
    assert error_of(promoted, HTTPStatus.FORBIDDEN).code is ErrorCode.FORBIDDEN
    # A new email needs the caller's current password; a token alone is refused.
    moved = f"moved.{email}"
    unconfirmed = update_user.sync_detailed(ada_id, client=ada, body=UserPatch(email=moved))
    error = error_of(unconfirmed, HTTPStatus.FORBIDDEN)
    assert [detail.field for detail in error.details or []] == ["currentPassword"]
    confirmed = UserPatch(email=moved, current_password=PASSWORD)
    assert (
        expect(update_user.sync(ada_id, client=ada, body=confirmed), UserEnvelope).data.email
        == moved
    )

    byron_id, byron, _ = sign_up(anyone, api, "Ada Byron")
    # Another user's email is left out (UNSET in the SDK): only they and admins see it.
    seen = expect(get_user.sync(ada_id, client=byron), UserViewEnvelope).data
    assert (seen.id, isinstance(seen.email, Unset)) == (ada_id, True)
    assert byron_id != ada_id
    page = list_users.sync_detailed(
        client=ada, search="ada", sort_by=UserSortField.NAME, order=SortOrder.ASC, limit=1
    )
    listed = expect(page.parsed, UserList)
    assert [user.name for user in listed.data] == ["Ada Byron"]
    assert listed.pagination.total_pages >= 2
    assert 'rel="next"' in page.headers["link"]
    assert "sortBy=name&order=asc" in page.headers["link"]
    # The next page by cursor: the one the first page handed out.
    assert isinstance(listed.pagination.next_cursor, str)
    following = list_users.sync(
        client=ada,
        search="ada",
        sort_by=UserSortField.NAME,
        order=SortOrder.ASC,
        limit=1,
        cursor=listed.pagination.next_cursor,
    )
    second = expect(following, UserList)
    assert [user.name for user in second.data] != ["Ada Byron"]
    assert (second.pagination.page, second.pagination.total_kind) == (2, TotalKind.EXACT)
    return ada


def posts_and_comments(anyone: Client, api: str, author: AuthenticatedClient) -> None:
    author_id = expect(get_me.sync(client=author), UserEnvelope).data.id
    body = PostCreate(title="Notes", content="On the engine.", status=PostStatus.PUBLISHED)
    created = create_post.sync_detailed(client=author, body=body, idempotency_key="notes-1")
    assert created.status_code == HTTPStatus.CREATED
    again = create_post.sync_detailed(client=author, body=body, idempotency_key="notes-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == created.content
    post = expect(created.parsed, PostEnvelope).data
    assert created.headers["location"] == f"/api/posts/{post.id}"
    assert (post.author_id, post.comment_count) == (author_id, 0)

    assert expect(get_post.sync(post.id, client=anyone), PostEnvelope).data.title == "Notes"
    found = expect(list_posts.sync(client=anyone, search="engine"), PostList)
    assert [item.id for item in found.data] == [post.id]
    mine = list_user_posts.sync(
        author_id, client=anyone, sort_by=PostSortField.TITLE, order=SortOrder.ASC
    )
    assert [item.id for item in expect(mine, PostList).data] == [post.id]

    body_replace = PostReplace(title="Notes, revised", content="More.", status=PostStatus.DRAFT)
    draft = expect(
        replace_post.sync(
            post.id, client=author, body=body_replace, if_match=created.headers["etag"]
        ),
        PostEnvelope,
    )
    assert draft.data.published_at is None
    hidden = get_post.sync_detailed(post.id, client=anyone)
    assert error_of(hidden, HTTPStatus.NOT_FOUND).code is ErrorCode.NOT_FOUND
    published = update_post.sync(
        post.id, client=author, body=PostPatch(status=PostStatus.PUBLISHED)
    )
    assert expect(published, PostEnvelope).data.published_at is not None

    _, reader, _ = sign_up(anyone, api, "Una Reader")
    said = create_post_comment.sync(post.id, client=reader, body=CommentCreate(body="First!"))
    comment = expect(said, CommentEnvelope).data
    assert (
        expect(get_comment.sync(comment.id, client=anyone), CommentEnvelope).data.body == "First!"
    )
    thread = expect(list_post_comments.sync(post.id, client=anyone), CommentList)
    assert [item.id for item in thread.data] == [comment.id]
    edited = update_comment.sync(comment.id, client=reader, body=CommentPatch(body="Second!"))
    assert expect(edited, CommentEnvelope).data.body == "Second!"
    refused = update_comment.sync_detailed(comment.id, client=author, body=CommentPatch(body="X"))
    assert error_of(refused, HTTPStatus.FORBIDDEN).code is ErrorCode.FORBIDDEN
    notifications_and_dashboard(author, author_id, comment.id)

    no_content(delete_comment.sync_detailed(comment.id, client=reader))
    no_content(delete_post.sync_detailed(post.id, client=author))
    gone = get_post.sync_detailed(post.id, client=author)
    assert error_of(gone, HTTPStatus.NOT_FOUND).code is ErrorCode.NOT_FOUND


def notifications_and_dashboard(
    author: AuthenticatedClient, author_id: uuid.UUID, comment_id: uuid.UUID
) -> None:
    """The reader's comment told the author; the dashboard shows it until it is read."""
    about = list_notifications.sync(client=author, comment_id=comment_id, unread=True)
    [notification] = expect(about, NotificationList).data
    assert (notification.comment_id, notification.read) == (comment_id, False)
    stats = expect(get_user_stats.sync(author_id, client=author), UserStatsEnvelope).data
    assert (stats.published, stats.comments_received) == (1, 1)
    dashboard = get_dashboard.sync_detailed(client=author)
    whole = expect(dashboard.parsed, DashboardEnvelope)
    assert (whole.data.user.id, whole.data.unread_count, whole.meta.partial) == (
        author_id,
        1,
        False,
    )
    unchanged = get_dashboard.sync_detailed(client=author, if_none_match=dashboard.headers["etag"])
    assert unchanged.status_code == HTTPStatus.NOT_MODIFIED
    read = mark_notifications_read.sync(
        client=author, body=NotificationsRead(ids=[notification.id])
    )
    assert expect(read, NotificationsReadEnvelope).data.changed == 1
    after = expect(get_dashboard.sync(client=author), DashboardEnvelope).data
    assert (after.unread_count, after.recent_notifications) == (0, [])


def log_out_and_leave(anyone: Client, api: str, author: AuthenticatedClient) -> None:
    me = expect(get_me.sync(client=author), UserEnvelope).data
    no_content(revoke_token.sync_detailed(client=author))
    revoked = get_me.sync_detailed(client=author)
    assert error_of(revoked, HTTPStatus.UNAUTHORIZED).code is ErrorCode.UNAUTHORIZED
    credentials = Credentials(email=me.email, password=PASSWORD)
    token = expect(create_token.sync(client=anyone, body=credentials), TokenEnvelope).data.token
    again = AuthenticatedClient(base_url=api, token=token)
    no_content(delete_user.sync_detailed(me.id, client=again))
    refused = create_token.sync_detailed(client=anyone, body=credentials)
    assert error_of(refused, HTTPStatus.UNAUTHORIZED).code is ErrorCode.UNAUTHORIZED


def main(base: str) -> int:
    api = f"{base.rstrip('/')}/api"
    anyone = Client(base_url=api)
    author = users(anyone, api)
    posts_and_comments(anyone, api, author)
    log_out_and_leave(anyone, api, author)
    print("client program: every operation answered as the contract says")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
