"""UTC timestamps, stored and rendered the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_iso(moment: datetime) -> str:
    """RFC 3339 with microseconds and a `Z`: "2026-11-25T15:33:02.065152Z".

    `isoformat` rather than `strftime`: it always writes four-digit years, and it is
    faster (a page of users renders 40 of these).
    """
    if moment.tzinfo is None:  # SQLite's, already UTC: no conversion to pay for
        return moment.isoformat(timespec="microseconds") + "Z"
    return as_utc(moment).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"
