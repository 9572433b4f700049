"""Page arithmetic, Link headers, cursors and `Prefer`, without HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from models.counting import CountMode
from service.http.errors import ApiError
from service.http.pagination import (
    counting_preference,
    cursor_link_header,
    decode_cursor,
    encode_cursor,
    link_header,
    total_pages,
)

KEY = b"k" * 32
QUERY = {"sortBy": "createdAt", "order": "desc", "search": None}
ID = uuid.UUID("0b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10")
WHEN = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "limit", "pages"), [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2)]
)
def test_total_pages(total, limit, pages):
    assert total_pages(total, limit) == pages


def test_links_keep_other_parameters_and_encode_them():
    header = link_header("/api/users", {"search": "a&b", "order": "asc", "x": None}, 2, 10, 35)
    assert header == (
        '</api/users?search=a%26b&order=asc&page=1&limit=10>; rel="first", '
        '</api/users?search=a%26b&order=asc&page=1&limit=10>; rel="prev", '
        '</api/users?search=a%26b&order=asc&page=3&limit=10>; rel="next", '
        '</api/users?search=a%26b&order=asc&page=4&limit=10>; rel="last"'
    )


def test_a_page_past_the_end_links_back_to_the_last():
    header = link_header("/p", {}, 9, 10, 35)
    assert 'rel="next"' not in header
    assert 'rel="prev"' not in header
    assert '</p?page=4&limit=10>; rel="last"' in header


def test_cursor_links_are_first_and_next():
    header = cursor_link_header("/p", {"order": "asc"}, 5, "abc")
    assert (
        header
        == '</p?order=asc&limit=5>; rel="first", </p?order=asc&cursor=abc&limit=5>; rel="next"'
    )
    assert cursor_link_header("/p", {}, 5, None) == '</p?limit=5>; rel="first"'


@pytest.mark.parametrize(("value", "time_key"), [(WHEN, True), ("Ünïcode title", False)])
def test_a_cursor_gives_back_its_position_and_page(value, time_key):
    cursor = encode_cursor((value, ID), 7, "/p", QUERY, KEY)
    assert decode_cursor(cursor, "/p", QUERY, KEY, time_key=time_key) == ((value, ID), 7)


def _refused(cursor, *, path="/p", query=QUERY, key=KEY, time_key=True) -> str:
    with pytest.raises(ApiError) as raised:
        decode_cursor(cursor, path, query, key, time_key=time_key)
    assert raised.value.status == 400
    assert raised.value.details
    assert raised.value.details[0]["field"] == "cursor"
    return raised.value.details[0]["message"]


def test_an_altered_cursor_is_refused():
    cursor = encode_cursor((WHEN, ID), 2, "/p", QUERY, KEY)
    for at in range(len(cursor)):
        changed = cursor[:at] + ("A" if cursor[at] != "A" else "B") + cursor[at + 1 :]
        if changed != cursor:
            _refused(changed)
    _refused(cursor[:-3])
    _refused("x")
    _refused(cursor, key=b"another key")


def test_a_cursor_is_bound_to_its_list_sort_and_filters():
    cursor = encode_cursor((WHEN, ID), 2, "/p", QUERY, KEY)
    assert "another list" in _refused(cursor, path="/q")
    assert "another list" in _refused(cursor, query={**QUERY, "order": "asc"})
    assert "another list" in _refused(cursor, query={**QUERY, "search": "x"})


def test_a_signed_cursor_of_the_wrong_kind_is_a_400_not_a_500():
    # A cursor with a text key used where the sort key is a time (same binding: only a
    # holder of the key could make this): refused, never handed to the database.
    cursor = encode_cursor(("not a time", ID), 2, "/p", QUERY, KEY)
    _refused(cursor, time_key=True)


@pytest.mark.parametrize(
    ("header", "mode"),
    [
        ("count=exact", CountMode.EXACT),
        ("return=minimal, count=planned", CountMode.PLANNED),
        ("COUNT=Estimated", CountMode.ESTIMATED),
        ("count=whatever", None),
        ("", None),
        (None, None),
    ],
)
def test_count_preference(header, mode):
    assert counting_preference(header) is mode
