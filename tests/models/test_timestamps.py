"""Every timestamp leaves the service as RFC 3339 in UTC, with microseconds and a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.timestamps import to_iso


@pytest.mark.parametrize(
    ("moment", "rendered"),
    [
        (datetime(2026, 11, 25, 15, 33, 2, 65152, tzinfo=UTC), "2026-11-25T15:33:02.065152Z"),
        (datetime(2026, 11, 25, 15, 33, 2), "2026-11-25T15:33:02.000000Z"),  # SQLite: naive
        (
            datetime(2026, 11, 25, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
            "2026-11-26T01:30:00.000000Z",
        ),
        (datetime(5, 1, 2, tzinfo=UTC), "0005-01-02T00:00:00.000000Z"),
    ],
    ids=["utc", "naive-is-utc", "offset-converted", "four-digit-year"],
)
def test_to_iso(moment, rendered):
    assert to_iso(moment) == rendered
