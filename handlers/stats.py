"""Handlers of the `stats` tag."""

from __future__ import annotations

import uuid
from typing import Any

from models import stats
from service.access.caller import current_viewer
from service.runtime import database


def get_user_stats(id_: str) -> tuple[dict[str, Any], int]:
    """Drafts only for the user themself, moderators and admins (the contract's rule)."""
    with database().read() as connection:
        return {"data": stats.user_stats(connection, uuid.UUID(id_), current_viewer())}, 200
