"""Handlers of the `dashboard` tag: one call for the frontend's home page."""

from __future__ import annotations

import uuid
from typing import Any

from service.dashboard.aggregate import answer


def get_dashboard(user: str) -> tuple[Any, int, dict[str, str]]:
    """The caller's profile, statistics and notifications (service/dashboard/)."""
    return answer(uuid.UUID(user))
