"""Pages of lists: by number (`page`, `limit`) or by cursor (`cursor`, `limit`), the
`pagination` object, the RFC 8288 `Link` header, and `Prefer: count=…`.

A cursor is a keyset position: the sort key's value and the id of the last item shown,
bound to the list, sort and filters it was made for, signed with HMAC-SHA256 (the
cursor key of the app's secret, service/app_secret.py) and base64url-encoded. The next
page is the rows after that position, found by an index seek: as fast at row 1,000,000
as at row 20, and nothing repeats or goes missing when rows are added or deleted between
pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import flask

from models.counting import CountMode, TotalKind
from models.listing import PageRequest
from models.ordering import Key, Page, is_time
from models.timestamps import to_iso
from service.http.errors import ApiError, ErrorCode
from service.runtime import current

SIGNATURE_BYTES = 16
MAX_PAGE = 1_000_000_000
# The text sort keys (a title, a name, an email) are shorter than this in characters.
MAX_TEXT = 1000
# How `to_iso` writes a time, which is all a cursor may hold: "2026-11-25T15:33:02.065152Z".
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_COUNT_PREFERENCE = re.compile(r"(?:^|[,;\s])count\s*=\s*\"?(exact|planned|estimated)\"?", re.I)
Unit = TypeVar("Unit")  # what a unit of work of the database yields: a Connection or Session


@dataclass(frozen=True)
class ListRequest:
    """What the client asked of a list, checked: the page the models read (`rows`), and
    what the answer's pagination, links and cursors need besides."""

    path: str
    query: Mapping[str, Any]  # the list's other parameters: search, sort, order, filters
    page: int
    rows: PageRequest
    count_preferred: bool = False  # the client sent `Prefer: count=…`


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        ErrorCode.VALIDATION_ERROR,
        f"Invalid query parameter '{field}'",
        details=[{"field": field, "in": "query", "message": message}],
    )


def _binding(path: str, query: Mapping[str, Any]) -> str:
    """What a cursor is only valid for: the list (its path) and every parameter but the
    page size."""
    kept = sorted((key, str(value)) for key, value in query.items() if value is not None)
    digest = hashlib.sha256(json.dumps([path, kept]).encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def encode_cursor(key: Key, page: int, path: str, query: Mapping[str, Any], secret: bytes) -> str:
    """The cursor of the page numbered `page` that starts after `key`."""
    value, ident = key
    kind, shown = ("t", to_iso(value)) if isinstance(value, datetime) else ("s", str(value))
    payload = json.dumps(
        [_binding(path, query), kind, shown, ident.hex, page],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(signature + payload).rstrip(b"=").decode()


def decode_cursor(
    cursor: str, path: str, query: Mapping[str, Any], secret: bytes, *, time_key: bool
) -> tuple[Key, int]:
    """The position and page number a cursor holds; a 400 for anything but a cursor this
    service made for this very list, sort and filters.

    A valid signature is not trusted further: every value is checked and converted here,
    as `encode_cursor` writes it, so that nothing a holder of the key could sign (a time
    out of range once in UTC, a lone surrogate, a NUL, a page of another type) reaches
    the database as anything but the 400 naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _invalid("cursor", "is not a cursor this service made") from None
    signature, payload = raw[:SIGNATURE_BYTES], raw[SIGNATURE_BYTES:]
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    if len(signature) < SIGNATURE_BYTES or not hmac.compare_digest(signature, expected):
        raise _invalid("cursor", "is not a cursor this service made, or was altered")
    try:
        binding, kind, shown, ident, page = _fields(payload)
        if binding != _binding(path, query):
            raise _invalid(
                "cursor", "was made for another list, sortBy, order or filter: start again"
            )
        if kind != ("t" if time_key else "s"):
            raise ValueError(kind)
        value: Any = _time(shown) if time_key else _text(shown)
        return (value, _uuid(ident)), _page(page)
    except (ValueError, TypeError, RecursionError):
        # Signed by this key but not by this code (another version, or a leaked key).
        raise _invalid("cursor", "is not a cursor this service made") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity: JSON has no such numbers


def _fields(payload: bytes) -> list[Any]:
    """The payload's five fields: a JSON array of UTF-8, the binding a string."""
    fields = json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)
    if not isinstance(fields, list) or len(fields) != 5 or not isinstance(fields[0], str):
        raise ValueError("shape")
    return fields


def _time(shown: Any) -> datetime:
    """A time exactly as `to_iso` writes it: UTC, so nothing shifts it out of range."""
    if not isinstance(shown, str) or not _TIME.fullmatch(shown):
        raise ValueError("time")
    return datetime.fromisoformat(shown).astimezone(UTC)


def _text(shown: Any) -> str:
    """A text sort key every database takes: no NUL (PostgreSQL refuses one), nothing
    that is not UTF-8 (a lone surrogate), no longer than any such column."""
    if not isinstance(shown, str) or len(shown) > MAX_TEXT or "\x00" in shown:
        raise ValueError("text")
    shown.encode("utf-8")  # UnicodeEncodeError, a ValueError, for a lone surrogate
    return shown


def _uuid(ident: Any) -> uuid.UUID:
    if not isinstance(ident, str) or not _HEX_ID.fullmatch(ident):
        raise ValueError("id")
    return uuid.UUID(hex=ident)


def _page(page: Any) -> int:
    # Not a bool (an int to Python) nor a float: exactly what encode_cursor wrote.
    if type(page) is not int or not 1 < page <= MAX_PAGE:
        raise ValueError("page")
    return page


def counting_preference(prefer: str | None) -> CountMode | None:
    """The `count=` preference of a `Prefer` header (RFC 7240), if any."""
    found = _COUNT_PREFERENCE.search(prefer or "")
    return CountMode(found.group(1).lower()) if found else None


def list_request(
    path: str,
    query: Mapping[str, Any],
    *,
    page: int | None,
    limit: int,
    cursor: str | None,
    sort_columns: Mapping[str, Any],
) -> ListRequest:
    """The checked request for a list: `page` and `cursor` are exclusive; a cursor must be
    one made for this list; `Prefer` chooses how `total` is counted. `query` holds the
    list's `sortBy` (a key of `sort_columns`), `order` and `search`."""
    settings = current().settings
    sort_by = query["sortBy"]
    after: Key | None = None
    number = page or 1
    if cursor is not None:
        if page is not None:
            raise _invalid("page", "must not be given with 'cursor'")
        key = current().secret.keys().cursor
        time_key = is_time(sort_columns[sort_by])
        after, number = decode_cursor(cursor, path, query, key, time_key=time_key)
    preferred = counting_preference(flask.request.headers.get("Prefer"))
    rows = PageRequest(
        sort_by=sort_by,
        order=query["order"],
        limit=limit,
        offset=0 if after is not None else (number - 1) * limit,
        after=after,
        search=query["search"],
        counting=preferred or CountMode.ESTIMATED,
        exact_limit=settings.count_exact_limit,
        search_timeout=settings.search_timeout,
    )
    return ListRequest(path, query, number, rows, count_preferred=preferred is not None)


def listed(
    path: str,
    query: Mapping[str, Any],
    *,
    page: int | None,
    limit: int,
    cursor: str | None,
    sort_columns: Mapping[str, Any],
    unit: Callable[[], AbstractContextManager[Unit]],
    read: Callable[[Unit, PageRequest], Page],
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A list operation's answer: its request checked (`list_request`), the page `read`
    in a unit of work of the database (`unit`), and the page `paginated`."""
    request = list_request(
        path, query, page=page, limit=limit, cursor=cursor, sort_columns=sort_columns
    )
    with unit() as db:
        found = read(db, request.rows)
    return paginated(found, request)


def total_pages(total: int, limit: int) -> int:
    return -(-total // limit)


def _kept(query: Mapping[str, Any]) -> str:
    return urlencode({key: value for key, value in query.items() if value is not None})


def link_header(
    path: str,
    query: Mapping[str, Any],
    page: int,
    limit: int,
    total: int,
    *,
    more: bool | None = None,
) -> str:
    """`first`, `prev`, `next` and `last` links by page number, keeping the list's other
    parameters. With `more` (whether a next page exists), `total` is only a lower bound:
    no `last`, and `next` follows `more`."""
    last = max(total_pages(total, limit), 1)
    # The other parameters are encoded once; only the page number differs between links.
    kept = _kept(query)
    prefix = f"{path}?{kept}&page=" if kept else f"{path}?page="

    def url(number: int) -> str:
        return f"{prefix}{number}&limit={limit}"

    relations = [("first", 1)]
    if 1 < page <= last + 1 or (more is not None and page > 1):
        relations.append(("prev", page - 1))
    has_next = page < last if more is None else more
    if has_next:
        relations.append(("next", page + 1))
    if more is None:
        relations.append(("last", last))
    return ", ".join(f'<{url(number)}>; rel="{rel}"' for rel, number in relations)


def cursor_link_header(path: str, query: Mapping[str, Any], limit: int, cursor: str | None) -> str:
    """`first` and, unless this is the last page, `next` by cursor."""
    kept = _kept(query)
    prefix = f"{path}?{kept}&" if kept else f"{path}?"
    links = [f'<{prefix}limit={limit}>; rel="first"']
    if cursor is not None:
        links.append(f'<{prefix}cursor={cursor}&limit={limit}>; rel="next"')
    return ", ".join(links)


def paginated(
    page: Page, request: ListRequest, secret: bytes | None = None
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The handler's return value for one page of a list; cursors signed with `secret`,
    by default the cursor key of the app's secret."""
    rows = request.rows
    next_cursor = None
    if page.next_key is not None:
        secret = secret or current().secret.keys().cursor
        next_cursor = encode_cursor(
            page.next_key, request.page + 1, request.path, request.query, secret
        )
    body = {
        "data": list(page.items),
        "pagination": {
            "page": request.page,
            "limit": rows.limit,
            "total": page.total.value,
            "totalPages": total_pages(page.total.value, rows.limit),
            "totalKind": page.total.kind.value,
            "nextCursor": next_cursor,
        },
    }
    if rows.after is not None:
        link = cursor_link_header(request.path, request.query, rows.limit, next_cursor)
    else:
        lower_bound = page.total.kind is TotalKind.AT_LEAST
        link = link_header(
            request.path,
            request.query,
            request.page,
            rows.limit,
            page.total.value,
            more=page.next_key is not None if lower_bound else None,
        )
    headers = {"Link": link}
    if request.count_preferred and page.total.mode is rows.counting:
        headers["Preference-Applied"] = f"count={rows.counting.value}"
    return body, 200, headers
