"""Page arithmetic, the `pagination` object and the RFC 8288 `Link` header of lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class PageRequest:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def total_pages(total: int, limit: int) -> int:
    return -(-total // limit)


def link_header(path: str, query: Mapping[str, Any], request: PageRequest, total: int) -> str:
    """`first`, `prev`, `next` and `last` links that keep the list's other parameters."""
    last = max(total_pages(total, request.limit), 1)
    # The other parameters are encoded once; only the page number differs between links.
    kept = urlencode({key: value for key, value in query.items() if value is not None})
    prefix = f"{path}?{kept}&page=" if kept else f"{path}?page="

    def url(page: int) -> str:
        return f"{prefix}{page}&limit={request.limit}"

    relations = [("first", 1)]
    if 1 < request.page <= last + 1:
        relations.append(("prev", request.page - 1))
    if request.page < last:
        relations.append(("next", request.page + 1))
    relations.append(("last", last))
    return ", ".join(f'<{url(page)}>; rel="{rel}"' for rel, page in relations)


def paginated(
    items: Sequence[Any], total: int, request: PageRequest, path: str, query: Mapping[str, Any]
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The handler's return value for one page of a list."""
    body = {
        "data": list(items),
        "pagination": {
            "page": request.page,
            "limit": request.limit,
            "total": total,
            "totalPages": total_pages(total, request.limit),
        },
    }
    return body, 200, {"Link": link_header(path, query, request, total)}
