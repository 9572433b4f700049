"""One page of a list: what is asked of it (`PageRequest`, free of the web: the HTTP
layer makes it from a request, service/http/pagination.py) and the one way every list
reads it (`read_page`): its filters, the keyset position, the stable order, one row more
than the page to know whether a next follows, and the count (models/counting.py), a
search's statements within their time bound (models/search.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy import select as core_select
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session
from sqlmodel.sql.expression import Select as ModelSelect

from models.counting import CountMode, PageSeen, count
from models.ordering import Key, Page, after, key_of, one_page, stable_order
from models.search import time_bound


@dataclass(frozen=True)
class PageRequest:
    """One page of a list, checked: its order, where it starts (`offset`, or after the
    position `after` of a cursor), its search, and how its total is counted."""

    sort_by: str  # a key of the list's SORT_COLUMNS
    order: str  # "asc" or "desc"
    limit: int
    offset: int = 0
    after: Key | None = None
    search: str | None = None
    counting: CountMode = CountMode.EXACT
    exact_limit: int = 0
    search_timeout: float | None = None  # what a search's statements may take together


def _itself(row: Any) -> Any:
    return row


AnySelect = Select[*tuple[Any, ...]]


def _rows(db: Connection | Session, query: AnySelect) -> Sequence[Any]:
    """A Session reads model objects (sqlmodel's `select` of them), a Connection rows."""
    if isinstance(db, Session):
        return db.exec(cast("ModelSelect[*tuple[Any, ...]]", query)).all()
    return db.execute(query).all()


def read_page(
    db: Connection | Session,
    request: PageRequest,
    rows: AnySelect,
    where: Sequence[ColumnElement[bool]],
    *,
    sort_columns: Mapping[str, Any],
    id_column: Any,
    estimates: bool,
    document: Callable[[Any], dict[str, Any]],
    entity: Callable[[Any], Any] = _itself,
    counted_from: AnySelect | None = None,
) -> Page:
    """The page of `rows` (the list's columns and joins) that match `where` (visibility,
    filters, search) and `request`, in a stable order, each row as `document` makes it;
    and how many match, counted on `counted_from` (by default the ids alone).

    `estimates`: the caller may see every row the list is drawn from (models/counting.py).
    `entity`: where a row holds the sort key and id as attributes (the row itself, or the
    model object a Session's row starts with)."""
    column = sort_columns[request.sort_by]
    query = (
        rows.where(*where, *after(column, id_column, request.order, request.after))
        .order_by(*stable_order(column, id_column, request.order))
        .offset(request.offset)
        .limit(request.limit + 1)  # one more: whether a next page exists, without the count
    )
    connection = db.connection() if isinstance(db, Session) else db
    search = bool(request.search)
    with time_bound(connection, request.search_timeout if search else None) as arm:
        arm()
        fetched = _rows(db, query)
        page, last_row = one_page(fetched, request.limit)
        arm()
        total = count(
            connection,
            (counted_from if counted_from is not None else core_select(id_column)).where(*where),
            request.counting,
            request.exact_limit,
            estimates=estimates,
            search=search,
            seen=PageSeen(
                None if request.after is not None else request.offset, len(fetched), request.limit
            ),
        )
    next_key = None
    if last_row is not None:
        last = entity(last_row)
        next_key = key_of(getattr(last, column.key), getattr(last, id_column.key))
    return Page(items=[document(row) for row in page], next_key=next_key, total=total)
