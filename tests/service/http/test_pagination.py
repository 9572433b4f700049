"""Page arithmetic, Link headers, cursors and `Prefer`, without HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models.counting import CountMode
from service.http.errors import ApiError
from service.http.pagination import (
    SIGNATURE_BYTES,
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


def _signed(payload: object, key: bytes = KEY) -> str:
    """A cursor holding `payload` (JSON, escapes for what UTF-8 cannot carry), signed with
    `key`: what a holder of the key could make, though the service never would."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    signature = hmac.new(key, raw, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(signature + raw).rstrip(b"=").decode()


def _binding() -> str:
    cursor = encode_cursor((WHEN, ID), 2, "/p", QUERY, KEY)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    binding: str = json.loads(raw[SIGNATURE_BYTES:])[0]
    return binding


NOT_MADE_HERE = "is not a cursor this service made"


@pytest.mark.parametrize(
    "shown",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00.000000+14:00",
        "2026-11-25T12:00:00",
        "2026-11-25",
        "2026-11-25T12:00:00.000000+00:00",
        "2026-11-25T12:00:00.123456z",
        "2026-11-25 12:00:00.123456Z",
        "\uff12026-11-25T12:00:00.123456Z",  # a full-width digit
        "2026-13-25T12:00:00.123456Z",
        "0000-01-01T00:00:00.000000Z",
        "",
    ],
)
def test_a_signed_cursor_with_a_time_the_codec_never_writes_is_refused(shown):
    cursor = _signed([_binding(), "t", shown, ID.hex, 2])
    assert _refused(cursor) == NOT_MADE_HERE


@pytest.mark.parametrize(
    "moment", [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]
)
def test_the_first_and_last_times_there_are_still_make_a_cursor(moment):
    cursor = encode_cursor((moment, ID), 2, "/p", QUERY, KEY)
    assert decode_cursor(cursor, "/p", QUERY, KEY, time_key=True) == ((moment, ID), 2)


def test_a_cursors_time_is_given_back_in_utc():
    (value, _), _ = decode_cursor(
        encode_cursor((WHEN, ID), 2, "/p", QUERY, KEY), "/p", QUERY, KEY, time_key=True
    )
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("shown", ["\ud800", "a\udfffb", "\x00", "a\x00b", "x" * 1001])
def test_a_signed_cursor_with_text_no_database_takes_is_refused(shown):
    cursor = _signed([_binding(), "s", shown, ID.hex, 2])
    assert _refused(cursor, time_key=False) == NOT_MADE_HERE


@pytest.mark.parametrize(
    "payload",
    [
        ["B", "t", "2026-11-25T12:00:00.123456Z", ID.hex, 2],  # the binding's place
        ["t", "2026-11-25T12:00:00.123456Z", ID.hex, 2],
        [None, "t", "2026-11-25T12:00:00.123456Z", ID.hex, 2, 3],
        {"b": None, "t": 1, "s": 2, "i": 3, "p": 4},
        "text",
        7,
        None,
    ],
)
def test_a_signed_cursor_of_another_shape_is_refused(payload):
    if isinstance(payload, list) and payload[0] == "B":
        payload = [_binding(), *payload[1:]]
        payload[0] = 12
    _refused(_signed(payload))


@pytest.mark.parametrize(
    ("at", "value"),
    [
        (3, "not hex"),
        (3, ID.hex.upper()),
        (3, str(ID)),
        (3, "{" + str(ID) + "}"),
        (3, f"urn:uuid:{ID}"),
        (3, 7),
        (4, True),
        (4, 0),
        (4, 1),
        (4, 2.0),
        (4, "2"),
        (4, 10**12),
        (4, float("nan")),
        (2, 12),
        (1, "s"),
        (1, "x"),
    ],
)
def test_a_signed_cursor_with_a_value_of_the_wrong_type_or_range_is_refused(at, value):
    payload: list[object] = [_binding(), "t", "2026-11-25T12:00:00.123456Z", ID.hex, 2]
    payload[at] = value
    assert _refused(_signed(payload)) == NOT_MADE_HERE


def test_a_payload_that_is_not_utf8_json_is_refused():
    for raw in (b"\xff\xfe[1]", "[1]".encode("utf-16"), b"[1", b""):
        signature = hmac.new(KEY, raw, hashlib.sha256).digest()[:SIGNATURE_BYTES]
        cursor = base64.urlsafe_b64encode(signature + raw).rstrip(b"=").decode()
        _refused(cursor)
