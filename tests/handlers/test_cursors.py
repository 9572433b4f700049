"""Cursor pagination and counted or estimated totals, on every list, over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from service.app import runtime_of
from service.http.pagination import SIGNATURE_BYTES
from tests.builders import account, create_comment, create_post, error_of
from tests.database import add_posts, run_sql


def links_of(response) -> dict[str, dict[str, str]]:
    found = {}
    for url, rel in re.findall(r'<([^>]*)>; rel="([a-z]+)"', response.headers["link"]):
        found[rel] = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    return found


def walk(client, url: str, headers=None, between=None) -> list[str]:
    """Every id of a list, page by page through `rel="next"` (which must carry the same
    cursor as `pagination.nextCursor`); `between(n)` runs after the n-th page."""
    seen: list[str] = []
    response = client.get(url, headers=headers or {})
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert body["pagination"]["page"] == pages
        seen += [item["id"] for item in body["data"]]
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            assert "next" not in links_of(response) or "cursor" not in links_of(response)["next"]
            return seen
        if "cursor" in url:
            assert links_of(response)["next"]["cursor"] == cursor
        if between:
            between(pages)
        base = re.sub(r"&?(page|cursor)=[^&]*", "", url)
        joiner = "&" if "?" in base else "?"
        response = client.get(f"{base}{joiner}cursor={cursor}", headers=headers or {})
        url = f"{base}{joiner}cursor={cursor}"


@pytest.fixture
def author(client):
    return account(client)


def posts_titled(client, author, titles) -> list[dict[str, Any]]:
    return [create_post(client, author, title=t, status="published") for t in titles]


@pytest.mark.parametrize("sort_by", ["createdAt", "updatedAt", "title"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walking_by_cursor_gives_the_whole_list_in_order(client, author, sort_by, order):
    posts_titled(client, author, ["b", "a", "c", "a", "e", "d", "a"])  # ties on title
    whole = client.get(f"/api/posts?sortBy={sort_by}&order={order}&limit=100").json()["data"]
    walked = walk(client, f"/api/posts?sortBy={sort_by}&order={order}&limit=2")
    assert walked == [post["id"] for post in whole]


def test_nothing_repeats_or_goes_missing_when_rows_come_and_go_between_pages(client, author):
    before = posts_titled(client, author, [f"m{n:02d}" for n in range(12)])
    deleted: set[str] = set()
    added_ahead: list[str] = []

    def meanwhile(page: int) -> None:
        # Odd pages: a post lands behind the walk and one ahead of it; even pages: a post
        # already shown and one not yet shown are deleted. By page number, the first
        # shifts every later page (an item repeats), the second skips one.
        if page % 2:
            posts_titled(client, author, [f"a{page:02d}"])
            added_ahead.append(posts_titled(client, author, [f"z{page:02d}"])[0]["id"])
            return
        behind = [before[page * 3 - 2]["id"]]
        ahead = [post["id"] for post in before[page * 3 + 1 : page * 3 + 2]]
        for ident in behind + ahead:
            assert client.delete(f"/api/posts/{ident}", headers=author.headers).status_code == 204
            deleted.add(ident)

    walked = walk(client, "/api/posts?sortBy=title&order=asc&limit=3", between=meanwhile)
    assert len(walked) == len(set(walked)), "an item was shown twice"
    expected = [post["id"] for post in before if post["id"] in walked or post["id"] not in deleted]
    assert [ident for ident in walked if ident not in added_ahead] == expected, "one was skipped"
    assert [ident for ident in walked if ident in added_ahead] == added_ahead


def test_every_list_walks_by_cursor(client, author):
    admin_view = author.headers
    post = posts_titled(client, author, ["p1", "p2", "p3"])[0]
    for n in range(3):
        create_comment(client, author, post["id"], body=f"c{n}")
    for _ in range(2):
        account(client)
    lists = {
        "/api/users?sortBy=name&order=asc&limit=2": 3,
        "/api/users?sortBy=createdAt&order=desc&limit=2": 3,
        f"/api/users/{author.id}/posts?sortBy=title&order=asc&limit=2": 3,
        f"/api/posts/{post['id']}/comments?sortBy=updatedAt&limit=2": 3,
    }
    for url, count in lists.items():
        walked = walk(client, url, headers=admin_view)
        assert len(walked) == len(set(walked)) == count, url


def test_the_next_link_carries_the_cursor(client, author):
    posts_titled(client, author, ["a", "b", "c"])
    first = client.get("/api/posts?limit=2&sortBy=title&order=asc")
    cursor = first.json()["pagination"]["nextCursor"]
    second = client.get(f"/api/posts?sortBy=title&order=asc&cursor={cursor}&limit=2")
    assert second.status_code == 200
    links = links_of(second)
    assert links["first"] == {"sortBy": "title", "order": "asc", "limit": "2"}
    assert "next" not in links  # the last page
    assert second.json()["pagination"]["nextCursor"] is None
    assert [p["title"] for p in second.json()["data"]] == ["c"]


class TestRefusedCursors:
    @pytest.fixture
    def cursor(self, client, author) -> str:
        posts_titled(client, author, ["a", "b", "c"])
        return client.get("/api/posts?limit=1&sortBy=title").json()["pagination"]["nextCursor"]

    def _refused(self, response, field: str = "cursor") -> str:
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"][0]["field"] == field
        assert error["details"][0]["in"] == "query"
        return error["details"][0]["message"]

    def test_an_altered_cursor_is_a_400(self, client, cursor):
        for at in (0, 5, len(cursor) // 2, len(cursor) - 1):
            altered = cursor[:at] + ("A" if cursor[at] != "A" else "B") + cursor[at + 1 :]
            self._refused(client.get(f"/api/posts?sortBy=title&cursor={altered}"))

    def test_a_cursor_that_is_not_one_is_a_400(self, client, cursor):
        for junk in ("x", "AAAA", "a" * 1000, cursor + "x"):
            self._refused(client.get(f"/api/posts?sortBy=title&cursor={junk}"))
        self._refused(client.get("/api/posts?cursor=not%20a%20cursor"))

    def test_a_cursor_is_bound_to_its_sort_order_filters_and_list(self, client, author, cursor):
        for url in (
            f"/api/posts?sortBy=createdAt&cursor={cursor}",
            f"/api/posts?sortBy=title&order=asc&cursor={cursor}",
            f"/api/posts?sortBy=title&search=abc&cursor={cursor}",
            f"/api/posts?sortBy=title&status=published&cursor={cursor}",
            f"/api/users/{author.id}/posts?sortBy=title&cursor={cursor}",
        ):
            assert "another list" in self._refused(client.get(url, headers=author.headers))
        assert client.get(f"/api/posts?sortBy=title&cursor={cursor}&limit=5").status_code == 200

    def test_cursor_and_page_together_are_a_400(self, client, cursor):
        self._refused(client.get(f"/api/posts?sortBy=title&cursor={cursor}&page=1"), "page")


class TestTotals:
    def test_small_lists_are_counted_exactly(self, client, author):
        posts_titled(client, author, ["a", "b"])
        response = client.get("/api/posts")
        assert response.json()["pagination"]["total"] == 2
        assert response.json()["pagination"]["totalKind"] == "exact"
        assert "preference-applied" not in response.headers

    def test_above_the_limit_the_total_is_a_lower_bound_unless_exact_is_preferred(self, app_with):
        api = app_with(count_exact_limit=2)
        author = account(api)
        posts_titled(api, author, ["a", "b", "c", "d", "e"])
        response = api.get("/api/posts?limit=2")
        assert response.json()["pagination"] | {"nextCursor": None} == {
            "page": 1,
            "limit": 2,
            "total": 3,  # counted to the cap and one more: at least that many
            "totalPages": 2,
            "totalKind": "atLeast",
            "nextCursor": None,
        }
        links = links_of(response)
        assert "last" not in links  # not known
        assert links["next"]["page"] == "2"
        third = links_of(api.get("/api/posts?limit=2&page=3"))
        assert "next" not in third and third["prev"]["page"] == "2"  # the page proved the end

        exact = api.get("/api/posts?limit=2", headers={"Prefer": "count=exact"})
        assert exact.headers["preference-applied"] == "count=exact"
        assert exact.json()["pagination"] | {"nextCursor": None} == {
            "page": 1,
            "limit": 2,
            "total": 5,
            "totalPages": 3,
            "totalKind": "exact",
            "nextCursor": None,
        }

        # An estimate's statistics would cover drafts the caller cannot see: none given.
        planned = api.get("/api/posts?limit=2", headers={"Prefer": "count=planned"})
        assert "preference-applied" not in planned.headers
        assert planned.json()["pagination"]["totalKind"] == "atLeast"

    def test_who_may_see_every_post_gets_the_planners_estimate_on_postgresql(
        self, app_with, admin, database_url
    ):
        api = app_with(count_exact_limit=2)
        posts_titled(api, admin, ["a", "b", "c", "d", "e"])
        planned = api.get("/api/posts?limit=2", headers=admin.headers | {"Prefer": "count=planned"})
        listed = api.get("/api/posts?limit=2", headers=admin.headers)
        if database_url.startswith("postgresql"):
            assert planned.headers["preference-applied"] == "count=planned"
            assert planned.json()["pagination"]["totalKind"] == "estimate"
            assert listed.json()["pagination"]["totalKind"] == "estimate"
            assert listed.json()["pagination"]["total"] >= 3  # never below the cap and one
        else:  # SQLite gives no estimates
            assert "preference-applied" not in planned.headers
            assert listed.json()["pagination"]["totalKind"] == "atLeast"

    def test_an_unknown_preference_is_ignored(self, client):
        response = client.get("/api/posts", headers={"Prefer": "count=sometimes, respond-async"})
        assert response.status_code == 200
        assert "preference-applied" not in response.headers


def signing_key(app) -> bytes:
    """The key the app signs its cursors with, as only the service knows it."""
    return runtime_of(app).secret.keys().cursor


def payload_of(cursor: str) -> list[Any]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return json.loads(raw[SIGNATURE_BYTES:])


def signed(payload: Any, key: bytes) -> str:
    """A cursor holding `payload`, signed with `key`: what a holder of the key could make.
    JSON escapes (`ensure_ascii`) carry what UTF-8 cannot, a lone surrogate say."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    signature = hmac.new(key, raw, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(signature + raw).rstrip(b"=").decode()


class TestForgedCursors:
    """Cursors signed with the app's real key but holding what the service never makes:
    every one is the 400 naming `cursor`, never a 500 (on SQLite and PostgreSQL)."""

    @pytest.fixture
    def real(self, client, author) -> dict[str, list[Any]]:
        posts_titled(client, author, ["a", "b", "c"])
        found = {}
        for sort_by in ("createdAt", "title"):
            page = client.get(f"/api/posts?limit=1&sortBy={sort_by}").json()
            found[sort_by] = payload_of(page["pagination"]["nextCursor"])
        return found

    def _refused(
        self, client, sort_by: str, cursor: str, message: str = "is not a cursor this service made"
    ) -> None:
        response = client.get(f"/api/posts?sortBy={sort_by}&cursor={cursor}")
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"] == [{"field": "cursor", "in": "query", "message": message}]

    @pytest.mark.parametrize(
        "shown",
        [
            "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
            "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
            "2026-11-25T12:00:00",  # no offset
            "2026-11-25",
            "2026-11-25T12:00:00.000000+01:00",  # not the service's own form
            "not a time",
            "",
        ],
    )
    def test_a_time_the_service_never_wrote_is_a_400(self, app, client, real, shown):
        binding, kind, _, ident, page = real["createdAt"]
        cursor = signed([binding, kind, shown, ident, page], signing_key(app))
        self._refused(client, "createdAt", cursor)

    @pytest.mark.parametrize("shown", ["\ud800", "a\udfffb", "a\x00b", "\x00"])
    def test_text_with_a_lone_surrogate_or_nul_is_a_400(self, app, client, real, shown):
        binding, kind, _, ident, page = real["title"]
        cursor = signed([binding, kind, shown, ident, page], signing_key(app))
        self._refused(client, "title", cursor)

    @pytest.mark.parametrize(
        "change",
        [
            {3: "not hex"},
            {3: 12345},
            {3: None},
            {3: "{0b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10}"},
            {3: "urn:uuid:0b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10"},
            {4: True},
            {4: 0},
            {4: 1},
            {4: 2.0},
            {4: "2"},
            {4: 10**12},
            {2: 12},
            {2: ["a"]},
            {1: "s"},  # a text key on a time-sorted list
            {0: None},
        ],
    )
    def test_any_other_value_of_the_wrong_type_or_range_is_a_400(self, app, client, real, change):
        payload = list(real["createdAt"])
        for at, value in change.items():
            payload[at] = value
        self._refused(client, "createdAt", signed(payload, signing_key(app)))

    @pytest.mark.parametrize(
        "shape", ["list_short", "list_long", "object", "string", "number", "null", "nan"]
    )
    def test_a_payload_of_another_shape_is_a_400(self, app, client, real, shape):
        payload = real["createdAt"]
        forged = {
            "list_short": payload[:4],
            "list_long": [*payload, 1],
            "object": dict(zip("abcde", payload, strict=True)),
            "string": "x",
            "number": 2,
            "null": None,
            "nan": [payload[0], payload[1], payload[2], payload[3], float("nan")],
        }[shape]
        self._refused(client, "createdAt", signed(forged, signing_key(app)))

    def test_the_key_is_not_derived_from_the_database_url(self, client, real, database_url):
        # Anyone who knows (or guesses) the database URL could sign cursors before.
        guessed = hashlib.sha256(f"cursor:{database_url}".encode()).digest()
        for sort_by, payload in real.items():
            cursor = signed(payload, guessed)
            self._refused(
                client, sort_by, cursor, "is not a cursor this service made, or was altered"
            )

    def test_every_app_on_the_database_signs_with_its_kept_secret(
        self, client, app, app_with, real, database_url
    ):
        """Without APP_SECRET, workers and instances (apps) on one database accept each
        other's cursors: the secret is the random one migration 0007 kept there."""
        rows = run_sql(database_url, "SELECT id, secret FROM app_secret")
        assert len(rows) == 1 and len(bytes(rows[0][1])) == 32
        cursor = signed(real["title"], signing_key(app))
        other = app_with()
        for api in (client, other):
            assert api.get(f"/api/posts?sortBy=title&cursor={cursor}").status_code == 200

    def test_app_secret_replaces_the_kept_one(self, app, app_with, real):
        cursor = signed(real["title"], signing_key(app))
        configured = app_with(app_secret="s" * 32)
        response = configured.get(f"/api/posts?sortBy=title&cursor={cursor}")
        assert response.status_code == 400
        again = app_with(app_secret="s" * 32)
        theirs = configured.get("/api/posts?sortBy=title&limit=1").json()["pagination"]
        assert (
            again.get(f"/api/posts?sortBy=title&cursor={theirs['nextCursor']}").status_code == 200
        )


def test_a_cursor_after_the_longest_title_is_a_cursor_the_contract_takes(client, author):
    """A title of 200 four-byte characters makes a cursor of some 1,200 characters: the
    parameter takes it (it took 1,000 at most, so the next page of such a list was a 400)."""
    longest = "\N{GRINNING FACE}" * 200
    posts_titled(client, author, [longest, longest, "z"])
    walked = walk(client, "/api/posts?sortBy=title&order=asc&limit=1")
    assert len(walked) == 3


PREFERENCES = (None, "count=exact", "count=planned", "count=estimated")


class TestHiddenRowsAreNeverCounted:
    """A total, counted or estimated, never counts rows the caller may not see: one
    published post and many drafts by one author, past the exact-count cap, on every
    `Prefer: count=` and without one, anonymous and as another user."""

    def test_no_total_counts_a_draft_the_caller_cannot_see(self, app_with, database_url):
        api = app_with(count_exact_limit=2)
        writer, other, reader = account(api), account(api), account(api)
        create_post(api, writer, status="published")
        add_posts(database_url, writer.id, 400, "draft")
        add_posts(database_url, other.id, 400, "published")
        visible = {
            "/api/posts": 401,
            f"/api/posts?authorId={writer.id}": 1,
            f"/api/users/{writer.id}/posts": 1,
            f"/api/users/{other.id}/posts": 400,
        }
        over = []
        for who, headers in (("anonymous", {}), ("reader", reader.headers)):
            for url, seen in visible.items():
                for preference in PREFERENCES:
                    sent = headers | ({"Prefer": preference} if preference else {})
                    response = api.get(url, headers=sent)
                    assert response.status_code == 200, response.text
                    pagination = response.json()["pagination"]
                    limit = pagination["limit"]
                    if pagination["total"] > seen or pagination["totalPages"] > -(-seen // limit):
                        over.append((who, url, preference, pagination["total"], seen))
        assert over == [], "totals above what the caller may see"
