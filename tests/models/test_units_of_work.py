"""A unit of work writes all or nothing, and a constraint it trips over is a Conflict."""

from __future__ import annotations

import uuid

import pytest

from models.db import Database
from models.errors import Conflict
from models.post import Post
from models.timestamps import utc_now
from tests.database import count_rows


@pytest.mark.usefixtures("clean_database")
def test_a_row_pointing_at_a_row_gone_meanwhile_is_a_conflict_and_writes_nothing(database_url):
    """What a concurrent delete does to a create (an outside probe saw 500s)."""
    database = Database(database_url)
    now = utc_now()
    orphan = Post(
        author_id=uuid.uuid4(),
        title="t",
        content="c",
        status="draft",
        created_at=now,
        updated_at=now,
    )
    try:
        with pytest.raises(Conflict), database.session() as session:
            session.add(orphan)
            session.flush()
    finally:
        database.dispose()
    assert count_rows(database_url, "posts") == 0
