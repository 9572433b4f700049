"""Handlers of the `dashboard` tag: one call for the frontend's home page."""

from __future__ import annotations

from typing import Any

from service.access.caller import signed_in
from service.dashboard.aggregate import answer


def get_dashboard() -> tuple[Any, int, dict[str, str]]:
    """The caller's profile, statistics and notifications (service/dashboard/)."""
    return answer(signed_in().id)
