"""Page arithmetic and Link headers, without HTTP."""

from __future__ import annotations

import pytest

from service.pagination import PageRequest, link_header, paginated, total_pages


@pytest.mark.parametrize(
    ("total", "limit", "pages"), [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2)]
)
def test_total_pages(total, limit, pages):
    assert total_pages(total, limit) == pages


def test_offset_of_a_page():
    assert PageRequest(page=3, limit=25).offset == 50


def test_links_keep_other_parameters_and_encode_them():
    header = link_header(
        "/api/users", {"search": "a&b", "order": "asc", "x": None}, PageRequest(2, 10), 35
    )
    assert header == (
        '</api/users?search=a%26b&order=asc&page=1&limit=10>; rel="first", '
        '</api/users?search=a%26b&order=asc&page=1&limit=10>; rel="prev", '
        '</api/users?search=a%26b&order=asc&page=3&limit=10>; rel="next", '
        '</api/users?search=a%26b&order=asc&page=4&limit=10>; rel="last"'
    )


def test_a_page_past_the_end_links_back_to_the_last():
    header = link_header("/p", {}, PageRequest(9, 10), 35)
    assert 'rel="next"' not in header
    assert 'rel="prev"' not in header
    assert '</p?page=4&limit=10>; rel="last"' in header


def test_paginated_body():
    body, status, headers = paginated([1, 2], 12, PageRequest(1, 2), "/p", {})
    assert status == 200
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 12, "totalPages": 6}
    assert 'rel="next"' in headers["Link"]
