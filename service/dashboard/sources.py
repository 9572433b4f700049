"""Where each part of the dashboard comes from: this service's model layer (`local`, the
default) or a core service over HTTP, following its contract in openapi/upstreams/.

A local source reads exactly the body its upstream contract describes, so both kinds
are taken apart by the same code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from models import notification as notifications
from models import stats
from models import user as users
from models.listing import PageRequest
from models.viewer import Viewer
from service.http.pagination import ListRequest, paginated
from service.settings import Settings

# The newest unread notifications the dashboard shows (the contract's maxItems).
RECENT = 5


class BrokenAnswer(ValueError):
    """A body that conforms to its contract but is not about the caller."""


def _profile(connection: Connection, user_id: uuid.UUID, viewer: Viewer) -> Any:
    document, _version = users.document_by_id(connection, user_id, viewer)
    return {"data": document}


def _stats(connection: Connection, user_id: uuid.UUID, viewer: Viewer) -> Any:
    return {"data": stats.user_stats(connection, user_id, viewer)}


def _notifications(connection: Connection, user_id: uuid.UUID, _viewer: Viewer) -> Any:
    rows = PageRequest(sort_by="createdAt", order="desc", limit=RECENT)
    found = notifications.list_page(connection, rows, recipient_id=user_id, unread=True)
    query = {"sortBy": "createdAt", "order": "desc", "unread": "true"}
    body, _, _ = paginated(found, ListRequest("/api/notifications", query, 1, rows))
    return body


def _own(body: Any, field: str, user_id: uuid.UUID) -> dict[str, Any]:
    data: dict[str, Any] = body["data"]
    if data[field] != str(user_id):
        raise BrokenAnswer(f"the answer is about {data[field]}, not the caller")
    return data


@dataclass(frozen=True)
class Source:
    """One source: its upstream contract, and the parts of the dashboard it fills."""

    name: str
    operation_id: str
    path: str  # relative to the source's base URL; {id} is the caller's
    parts: tuple[str, ...]
    read_local: Callable[[Connection, uuid.UUID, Viewer], Any]
    split: Callable[[Any, uuid.UUID], dict[str, Any]]

    def base_url(self, settings: Settings) -> str:
        """The upstream's base URL, or "" for this service's own model layer."""
        url: str = getattr(settings, f"dashboard_{self.name}_url")
        return url

    def url(self, base: str, user_id: uuid.UUID) -> str:
        return base + self.path.format(id=user_id)


PROFILE = Source(
    name="profile",
    operation_id="get_user",
    path="/users/{id}",
    parts=("user",),
    read_local=_profile,
    split=lambda body, user_id: {"user": _own(body, "id", user_id)},
)
STATS = Source(
    name="stats",
    operation_id="get_user_stats",
    path="/users/{id}/stats",
    parts=("stats",),
    read_local=_stats,
    split=lambda body, user_id: {"stats": _own(body, "userId", user_id)},
)
NOTIFICATIONS = Source(
    name="notifications",
    operation_id="list_notifications",
    path=f"/notifications?unread=true&limit={RECENT}",
    parts=("unreadCount", "recentNotifications"),
    read_local=_notifications,
    split=lambda body, _user_id: {
        "unreadCount": body["pagination"]["total"],
        "recentNotifications": body["data"][:RECENT],
    },
)
SOURCES = (PROFILE, STATS, NOTIFICATIONS)
