"""The posts operations over HTTP: visibility of drafts, ownership, lists and errors."""

from __future__ import annotations

from service.app import runtime_of
from tests.builders import MERGE_PATCH, account, create_comment, create_post, error_of, if_match
from tests.database import add_posts, count_rows, statements_run

UNKNOWN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


class TestCreate:
    def test_the_caller_is_the_author_and_drafts_are_the_default(self, client):
        author = account(client, name="Ada Author")
        response = client.post(
            "/api/posts", json={"title": "On Engines", "content": "Text."}, headers=author.headers
        )
        assert response.status_code == 201
        post = response.json()["data"]
        assert response.headers["location"] == f"/api/posts/{post['id']}"
        assert post["authorId"] == author.id
        assert post["author"] == {"id": author.id, "name": "Ada Author"}
        assert (post["status"], post["publishedAt"], post["commentCount"]) == ("draft", None, 0)
        assert post["createdAt"] == post["updatedAt"]

    def test_publishing_at_creation_sets_published_at(self, client):
        post = create_post(client, account(client), status="published")
        assert post["publishedAt"] == post["createdAt"]

    def test_an_author_id_in_the_body_is_refused(self, client):
        author, other = account(client), account(client)
        response = client.post(
            "/api/posts",
            json={"title": "T", "content": "C", "authorId": other.id},
            headers=author.headers,
        )
        assert response.status_code == 400
        assert error_of(response)["details"][0]["field"] == "authorId"

    def test_every_invalid_field_is_listed(self, client):
        author = account(client)
        response = client.post(
            "/api/posts",
            json={"title": "", "content": "x" * 50_001, "status": "live"},
            headers=author.headers,
        )
        assert response.status_code == 400
        assert {d["field"] for d in error_of(response)["details"]} == {"title", "content", "status"}

    def test_blank_or_control_characters_are_refused(self, client):
        author = account(client)
        for body in ({"title": "   ", "content": "ok"}, {"title": "ok", "content": "\n\t "}):
            response = client.post("/api/posts", json=body, headers=author.headers)
            assert response.status_code == 400, body
        response = client.post(
            "/api/posts",
            json={"title": "ok", "content": "line\nbreak\ttab"},
            headers=author.headers,
        )
        assert response.status_code == 201

    def test_writing_needs_a_token(self, client):
        response = client.post("/api/posts", json={"title": "T", "content": "C"})
        assert response.status_code == 401


class TestVisibility:
    def test_drafts_are_for_their_author_moderators_and_admins(self, client, admin):
        author, reader = account(client), account(client)
        moderator = account(client, admin, role="moderator")
        draft = create_post(client, author)
        url = f"/api/posts/{draft['id']}"
        assert client.get(url).status_code == 404
        assert client.get(url, headers=reader.headers).status_code == 404
        assert error_of(client.get(url, headers=reader.headers)) == {
            "code": "NOT_FOUND",
            "message": f"Post '{draft['id']}' does not exist",
        }
        for viewer in (author, moderator, admin):
            assert client.get(url, headers=viewer.headers).json()["data"] == draft

    def test_lists_show_published_posts_and_the_callers_drafts(self, client, admin):
        author, reader = account(client), account(client)
        draft = create_post(client, author)
        published = create_post(client, author, status="published")
        mine = create_post(client, reader)
        assert ids(client.get("/api/posts")) == [published["id"]]
        assert set(ids(client.get("/api/posts", headers=reader.headers))) == {
            published["id"],
            mine["id"],
        }
        everything = client.get("/api/posts", headers=admin.headers)
        assert set(ids(everything)) == {draft["id"], published["id"], mine["id"]}
        assert everything.json()["pagination"]["total"] == 3

    def test_status_and_author_filters(self, client, admin):
        author, other = account(client), account(client)
        draft = create_post(client, author)
        create_post(client, author, status="published")
        create_post(client, other, status="published")
        response = client.get(
            f"/api/posts?status=draft&authorId={author.id}", headers=admin.headers
        )
        assert ids(response) == [draft["id"]]
        assert "status=draft" in response.headers["link"]
        assert f"authorId={author.id}" in response.headers["link"]
        assert ids(client.get("/api/posts?status=draft")) == []

    def test_a_users_posts(self, client):
        author, reader = account(client), account(client)
        create_post(client, author)
        published = create_post(client, author, status="published")
        create_post(client, reader, status="published")
        response = client.get(f"/api/users/{author.id}/posts", headers=reader.headers)
        assert response.status_code == 200
        assert ids(response) == [published["id"]]
        assert response.headers["link"].startswith(f"</api/users/{author.id}/posts?")
        assert len(ids(client.get(f"/api/users/{author.id}/posts", headers=author.headers))) == 2

    def test_posts_of_an_unknown_user_are_not_found(self, client):
        response = client.get(f"/api/users/{UNKNOWN_ID}/posts")
        assert response.status_code == 404
        assert error_of(response)["code"] == "NOT_FOUND"


class TestLists:
    def test_search_sort_and_stable_pages(self, client):
        author = account(client)
        made = [
            create_post(client, author, title=title, status="published")
            for title in ("Same", "Same", "Same", "Other 100%")
        ]
        assert ids(client.get("/api/posts?search=100%25")) == [made[3]["id"]]
        seen = []
        for page in (1, 2):
            seen += ids(
                client.get(f"/api/posts?search=same&sortBy=title&order=asc&limit=2&page={page}")
            )
        assert sorted(seen) == sorted(p["id"] for p in made[:3])
        assert seen == sorted(seen)

    def test_comment_counts_are_per_post(self, client):
        author = account(client)
        first = create_post(client, author, status="published")
        second = create_post(client, author, status="published")
        for _ in range(3):
            create_comment(client, author, first["id"])
        counts = {p["id"]: p["commentCount"] for p in client.get("/api/posts").json()["data"]}
        assert counts == {first["id"]: 3, second["id"]: 0}
        assert client.get(f"/api/posts/{first['id']}").json()["data"]["commentCount"] == 3

    def test_bad_list_parameters(self, client):
        response = client.get("/api/posts?sortBy=author&status=gone&authorId=7")
        assert response.status_code == 400
        assert {d["field"] for d in error_of(response)["details"]} == {
            "sortBy",
            "status",
            "authorId",
        }


class TestChange:
    def test_the_author_publishes_and_unpublishes(self, client):
        author = account(client)
        post = create_post(client, author)
        url = f"/api/posts/{post['id']}"
        published = client.patch(
            url, json={"status": "published"}, headers={**MERGE_PATCH, **author.headers}
        )
        assert published.status_code == 200
        assert published.json()["data"]["publishedAt"] is not None
        assert published.json()["data"]["updatedAt"] > post["updatedAt"]
        back = client.patch(
            url, json={"status": "draft"}, headers={**MERGE_PATCH, **author.headers}
        ).json()["data"]
        assert back["publishedAt"] is None

    def test_put_replaces_every_field(self, client):
        author = account(client)
        post = create_post(client, author)
        url = f"/api/posts/{post['id']}"
        response = client.put(
            url,
            json={"title": "New", "content": "New text", "status": "published"},
            headers={**author.headers, **if_match(client, url, author.headers)},
        )
        assert response.status_code == 200
        data = response.json()["data"]
        assert (data["title"], data["content"], data["status"]) == ("New", "New text", "published")
        assert (
            client.put(
                url,
                json={"title": "Only"},
                headers={**author.headers, **if_match(client, url, author.headers)},
            ).status_code
            == 400
        )

    def test_a_moderator_may_edit_another_users_post_a_reader_may_not(self, client, admin):
        author, reader = account(client), account(client)
        moderator = account(client, admin, role="moderator")
        post = create_post(client, author, status="published")
        url = f"/api/posts/{post['id']}"
        assert (
            client.patch(
                url, json={"title": "X"}, headers={**MERGE_PATCH, **reader.headers}
            ).status_code
            == 403
        )
        assert (
            client.patch(
                url, json={"title": "Y"}, headers={**MERGE_PATCH, **moderator.headers}
            ).status_code
            == 200
        )

    def test_editing_a_draft_one_cannot_see_is_not_found(self, client):
        author, reader = account(client), account(client)
        draft = create_post(client, author)
        response = client.patch(
            f"/api/posts/{draft['id']}",
            json={"title": "X"},
            headers={**MERGE_PATCH, **reader.headers},
        )
        assert response.status_code == 404

    def test_unknown_post_is_not_found(self, client):
        author = account(client)
        response = client.patch(
            f"/api/posts/{UNKNOWN_ID}",
            json={"title": "X"},
            headers={**MERGE_PATCH, **author.headers},
        )
        assert response.status_code == 404


class TestDelete:
    def test_deleting_a_post_deletes_its_comments(self, client, database_url):
        author, commenter = account(client), account(client)
        post = create_post(client, author, status="published")
        other = create_post(client, author, status="published")
        comment = create_comment(client, commenter, post["id"])
        create_comment(client, commenter, other["id"])
        response = client.delete(f"/api/posts/{post['id']}", headers=author.headers)
        assert response.status_code == 204
        assert response.content == b""
        assert client.get(f"/api/posts/{post['id']}").status_code == 404
        assert client.get(f"/api/comments/{comment['id']}").status_code == 404
        assert count_rows(database_url, "posts") == 1
        assert count_rows(database_url, "comments") == 1

    def test_a_stranger_cannot_delete(self, client):
        author, stranger = account(client), account(client)
        post = create_post(client, author, status="published")
        assert (
            client.delete(f"/api/posts/{post['id']}", headers=stranger.headers).status_code == 403
        )
        assert client.get(f"/api/posts/{post['id']}").status_code == 200


class TestSearchCost:
    """What a search may cost: a term the trigram index can serve, a bounded count, one
    statement when the first page is the whole answer, and a time bound."""

    def test_a_term_shorter_than_a_trigram_is_a_400_and_wildcards_match_themselves(self, client):
        author = account(client)
        made = create_post(client, author, title="Up 100%%% on the engine", status="published")
        create_post(client, author, title="Something else", status="published")
        for term in ("a", "%25", "_", "ab", "%25_"):
            response = client.get(f"/api/posts?search={term}")
            assert response.status_code == 400, term
            assert error_of(response)["details"][0]["field"] == "search"
        for term, found in (("%25%25%25", [made["id"]]), ("___", []), ("ENG", [made["id"]])):
            response = client.get(f"/api/posts?search={term}")
            assert response.status_code == 200, response.text
            assert ids(response) == found, term

    def test_a_search_is_counted_up_to_the_cap_even_when_exact_is_preferred(self, app_with):
        api = app_with(count_exact_limit=2)
        author = account(api)
        for n in range(5):
            create_post(api, author, title=f"Match {n}", status="published")
        exact = {"Prefer": "count=exact"}
        found = api.get("/api/posts?search=match&limit=2", headers=exact)
        assert found.status_code == 200, found.text
        assert "preference-applied" not in found.headers  # not honoured for a search
        assert found.json()["pagination"] | {"nextCursor": None} == {
            "page": 1,
            "limit": 2,
            "total": 3,
            "totalPages": 2,
            "totalKind": "atLeast",
            "nextCursor": None,
        }
        listed = api.get("/api/posts?limit=2", headers=exact)  # no search: counted
        assert listed.headers["preference-applied"] == "count=exact"
        assert listed.json()["pagination"]["total"] == 5

    def test_a_search_whose_first_page_is_the_whole_answer_runs_once(self, app, client):
        author = account(client)
        create_post(client, author, title="On the engine", status="published")
        engine = runtime_of(app).database.engine
        for term in ("zzz", "engine"):
            with statements_run(engine) as statements:
                response = client.get(f"/api/posts?search={term}")
            assert response.status_code == 200, response.text
            on_posts = [s.sql for s in statements if "FROM posts" in s.sql]
            assert len(on_posts) == 1, on_posts  # the page; its end is the list's end
            assert response.json()["pagination"]["totalKind"] == "exact"

    def test_a_search_past_its_time_bound_is_a_400_and_the_database_stays_up(
        self, app_with, database_url
    ):
        api = app_with(search_timeout=0.001)
        author = account(api)
        add_posts(database_url, author.id, 20_000, "published")  # a scan: far past 1 ms
        for _ in range(4):  # more than the breaker's failures
            response = api.get("/api/posts?search=%25%25%25")
            assert response.status_code == 400, response.text
            error = error_of(response)
            assert error["code"] == "VALIDATION_ERROR"
            assert error["details"][0]["field"] == "search"
            assert "longer or more specific" in error["details"][0]["message"]
        listed = api.get("/api/posts?limit=1")  # not an outage: the breaker stayed closed
        assert listed.status_code == 200, listed.text
