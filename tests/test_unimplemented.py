"""Spec first: an operation merged into the contract before its handler starts anyway and
answers 501 `NOT_IMPLEMENTED`; `make test` lists such operations as a warning, and
refuses them once the contract says the release is final (`info.x-release: final`)."""

from __future__ import annotations

import copy
import logging
import sys
import warnings

import pytest

from service.contract import Contract
from service.http.unimplemented import FINAL, RELEASE, NotReleasable, handler_of, release_check
from tests.builders import account, bearer, create_post

CONTRACT = Contract.load()


def with_likes() -> Contract:
    """The contract with `GET /posts/{id}/likes`, declared ahead of its handler."""
    document = copy.deepcopy(CONTRACT.document)
    comments = document["paths"]["/posts/{id}/comments"]
    document["paths"]["/posts/{id}/likes"] = {
        "parameters": comments["parameters"],
        "get": {
            "operationId": "list_post_likes",
            "x-openapi-router-controller": "handlers.posts",
            "tags": ["posts"],
            "summary": "Who liked a post",
            "security": [{"bearerAuth": []}],
            "responses": {
                "200": {"description": "The likes."},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "501": {"$ref": "#/components/responses/NotImplemented"},
            },
        },
    }
    return Contract(document, "")


def test_an_operation_without_a_handler_starts_and_answers_501(app_with, client, caplog):
    author = account(client)
    post = create_post(client, author)
    with caplog.at_level(logging.WARNING, "service.http.unimplemented"):
        ahead = app_with(with_likes())
    response = ahead.get(f"/api/posts/{post['id']}/likes", headers=bearer(author.token))
    assert "without a handler (they answer 501 NOT_IMPLEMENTED): list_post_likes" in caplog.text
    assert response.status_code == 501
    assert response.json() == {
        "error": {
            "code": "NOT_IMPLEMENTED",
            "message": "list_post_likes is in the contract but not implemented yet",
        }
    }
    assert response.headers["X-Request-ID"]
    # Still behind the access step, as the contract says: no token, a 401.
    assert ahead.get(f"/api/posts/{post['id']}/likes").status_code == 401
    # The rest of the service is the same.
    assert ahead.get(f"/api/posts/{post['id']}", headers=bearer(author.token)).status_code == 200


def test_a_handler_module_that_fails_to_import_is_not_taken_for_a_missing_one(tmp_path):
    assert handler_of("handlers.posts.no_such_function") is None
    assert handler_of("handlers.no_such_module.anything") is None
    assert handler_of("handlers.posts.list_posts") is not None
    (tmp_path / "broken_handlers_for_test.py").write_text("import no_such_dependency_xyz\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
            handler_of("broken_handlers_for_test.f")
    finally:
        sys.path.remove(str(tmp_path))


def test_every_operation_has_a_handler_or_is_listed():
    """A warning in `make test` for each operation ahead of its handler; a failure when
    the contract marks the release final, or one does not declare its 501."""
    missing = release_check(CONTRACT)
    if missing:
        warnings.warn(
            f"operations ahead of their handler (they answer 501): {', '.join(missing)}",
            stacklevel=1,
        )


def test_the_final_release_refuses_them():
    contract = with_likes()
    assert release_check(contract) == ["list_post_likes"]
    contract.document["info"][RELEASE] = FINAL
    with pytest.raises(NotReleasable, match=r"info\.x-release is final"):
        release_check(contract)
    del contract.document["info"][RELEASE]
    del contract.document["paths"]["/posts/{id}/likes"]["get"]["responses"]["501"]
    with pytest.raises(NotReleasable, match="does not declare its 501"):
        release_check(contract)
