"""Rate limits: the contract's numbers, enforced per user or address, with honest headers."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import pytest
from limits import parse
from limits.storage import storage_from_string
from starlette.testclient import TestClient

from service.access.rate_limits import WindowEnds
from service.contract import Contract
from tests.builders import PASSWORD, account, create_user, error_of

CONTRACT = Contract.load()
DEFAULT = parse(CONTRACT.document["x-rate-limit-default"])
AUTH_FAILURES = parse(CONTRACT.document["x-rate-limit-auth-failures"])
TOKEN_LIMIT = parse(CONTRACT.operations["create_token"]["x-rate-limit"])


@pytest.fixture
def limited(app_with) -> Callable[..., TestClient]:
    """Clients of apps with rate limits on, each app with fresh in-memory counts."""

    def make(contract: Contract = CONTRACT, **overrides) -> TestClient:
        return app_with(contract, ratelimit_enabled=True, **overrides)

    return make


def test_the_declared_limit_is_the_enforced_one(client, limited):
    api = limited()
    create_user(client, email="limit@example.com")
    credentials = {"email": "limit@example.com", "password": PASSWORD}
    remaining = []
    for _ in range(TOKEN_LIMIT.amount):
        response = api.post("/api/tokens", json=credentials)
        assert response.status_code == 201
        assert response.headers["x-ratelimit-limit"] == str(TOKEN_LIMIT.amount)
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert int(response.headers["x-ratelimit-reset"]) > time.time()
    assert remaining == list(range(TOKEN_LIMIT.amount - 1, -1, -1))
    refused = api.post("/api/tokens", json=credentials)
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "RATE_LIMITED"
    assert str(TOKEN_LIMIT.amount) in error_of(refused)["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-request-id"]


def test_the_document_default_applies_to_other_operations(limited):
    response = limited().get("/api/posts")
    assert response.headers["x-ratelimit-limit"] == str(DEFAULT.amount)


def test_each_user_has_their_own_bucket(client, limited):
    api = limited()
    first, second = account(client), account(client)
    for _ in range(3):
        api.get("/api/me", headers=first.headers)
    mine = api.get("/api/me", headers=first.headers).headers["x-ratelimit-remaining"]
    theirs = api.get("/api/me", headers=second.headers).headers["x-ratelimit-remaining"]
    assert int(mine) == DEFAULT.amount - 4
    assert int(theirs) == DEFAULT.amount - 1


def test_a_spoofed_forwarded_for_does_not_pick_a_new_bucket(limited):
    api = limited()
    seen = [
        int(
            api.get("/api/posts", headers={"X-Forwarded-For": f"10.0.0.{n}"}).headers[
                "x-ratelimit-remaining"
            ]
        )
        for n in range(3)
    ]
    assert seen == [DEFAULT.amount - 1, DEFAULT.amount - 2, DEFAULT.amount - 3]


def test_a_trusted_proxys_forwarded_for_does(limited):
    api = limited(trusted_proxy_hops=1)
    seen = {
        api.get("/api/posts", headers={"X-Forwarded-For": f"10.0.0.{n}"}).headers[
            "x-ratelimit-remaining"
        ]
        for n in range(3)
    }
    assert seen == {str(DEFAULT.amount - 1)}


def test_the_window_resets(limited):
    contract = Contract(copy.deepcopy(CONTRACT.document), CONTRACT.text)
    health = contract.document["paths"]["/health"]["get"]
    health["x-rate-limit"] = "2/second"
    api = limited(contract)
    statuses = [api.get("/api/health").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    time.sleep(1.1)
    assert api.get("/api/health").status_code == 200


def test_wrong_passwords_from_one_address_end_in_429(client, limited):
    api = limited()
    create_user(client, email="victim@example.com")
    guess = {"email": "victim@example.com", "password": "not the password"}
    statuses = [api.post("/api/tokens", json=guess).status_code for _ in range(10)]
    assert statuses[: AUTH_FAILURES.amount] == [401] * AUTH_FAILURES.amount
    assert statuses[AUTH_FAILURES.amount :] == [429] * (10 - AUTH_FAILURES.amount)
    # the right password is refused too, unchecked, until the window ends
    right = api.post("/api/tokens", json={**guess, "password": PASSWORD})
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) >= 1


def test_bad_tokens_count_as_failed_credentials(limited):
    api = limited()
    bad = {"Authorization": "Bearer " + "x" * 43}
    statuses = [
        api.get("/api/me", headers=bad).status_code for _ in range(AUTH_FAILURES.amount + 1)
    ]
    assert statuses == [401] * AUTH_FAILURES.amount + [429]
    assert error_of(api.get("/api/me", headers=bad))["code"] == "RATE_LIMITED"


def test_storage_down_means_serving_without_limits(limited, caplog):
    api = limited(ratelimit_storage_uri="redis://127.0.0.1:1/0")
    responses = [api.get("/api/posts") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "x-ratelimit-limit" not in responses[0].headers
    bad = {"Authorization": "Bearer " + "x" * 43}
    assert api.get("/api/me", headers=bad).status_code == 401
    # Said once (a minute), not once per request: and said at all, so limits were tried.
    said = [r for r in caplog.records if "serving without rate limits" in r.getMessage()]
    assert [r.getMessage() for r in said] == [
        "Rate-limit storage failed; serving without rate limits meanwhile"
    ]
    assert said[0].exc_info is not None


def test_window_ends_are_known_from_the_first_hit_and_asked_for_otherwise():
    storage = storage_from_string("memory://")
    ends = WindowEnds(storage)
    before = time.time()
    # This instance opened the window (its increment returned 1): no need to ask.
    assert before + 60 <= ends.of("opened-here", count=1, expiry=60) <= time.time() + 60
    # Another instance opened this one 30 s ago: the storage knows when it ends.
    storage.incr("opened-elsewhere", expiry=30)
    asked = ends.of("opened-elsewhere", count=2, expiry=60)
    assert before + 30 <= asked <= time.time() + 30
    # Remembered: a later count in the same window gets the same end.
    assert ends.of("opened-elsewhere", count=3, expiry=60) == asked


def test_window_ends_forget_ended_windows_when_full(monkeypatch):
    ends = WindowEnds(storage_from_string("memory://"))
    monkeypatch.setattr(WindowEnds, "MAX_KEYS", 3)
    ends.ends = {"ended-1": time.time() - 1, "ended-2": time.time() - 1, "live": time.time() + 9}
    ends.of("new", count=1, expiry=60)
    assert set(ends.ends) == {"live", "new"}

    ends.ends = {"live-1": time.time() + 9, "live-2": time.time() + 9, "live-3": time.time() + 9}
    ends.of("newer", count=1, expiry=60)
    assert set(ends.ends) == {"newer"}  # bounded even when every window is live
