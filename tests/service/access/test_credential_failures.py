"""Failed credentials are throttled, valid ones never.

A valid token is always accepted: only a token that fails counts against
`x-rate-limit-auth-failures` (per client address), and only a failing one gets the 429
once the address is over it. Behind a proxy every client may share one address, so made-up
tokens from anyone must not lock out everyone's sessions. A login is refused before its
password is verified once its bucket is over, and that bucket is the address AND the
email tried: an attacker slows down the logins of the accounts it attacks, no one else's.
"""

from __future__ import annotations

import pytest
from limits import parse

from service.contract import Contract
from tests.builders import PASSWORD, account, bearer, create_user, error_of

AUTH_FAILURES = parse(Contract.load().document["x-rate-limit-auth-failures"]).amount
MADE_UP = bearer("x" * 43)


@pytest.fixture
def limited(app_with):
    return app_with(ratelimit_enabled=True)


def test_bad_tokens_from_an_address_never_lock_out_a_valid_token(client, limited):
    """Behind a proxy with TRUSTED_PROXY_HOPS=0 every client shares one address: made-up
    tokens from anyone must not lock everyone's sessions out."""
    user = account(client)
    statuses = [
        limited.get("/api/me", headers=MADE_UP).status_code for _ in range(AUTH_FAILURES + 2)
    ]
    assert statuses == [401] * AUTH_FAILURES + [429] * 2
    me = limited.get("/api/me", headers=user.headers)
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == user.id
    assert limited.get("/api/posts", headers=user.headers).status_code == 200
    # A valid token does not wipe the count: bad ones stay refused.
    over = limited.get("/api/posts", headers=MADE_UP)
    assert over.status_code == 429
    assert error_of(over)["code"] == "RATE_LIMITED"
    assert int(over.headers["retry-after"]) >= 1


def test_failed_logins_lock_only_the_account_tried_from_that_address(client, limited):
    victim = create_user(client)
    bystander = create_user(client)
    guess = {"email": victim["email"], "password": "not the password"}
    statuses = [
        limited.post("/api/tokens", json=guess).status_code for _ in range(AUTH_FAILURES + 1)
    ]
    assert statuses == [401] * AUTH_FAILURES + [429]
    # The victim's login is refused, the right password unchecked, however it is spelt.
    for email in (victim["email"], f"  {victim['email'].upper()} "):
        right = limited.post("/api/tokens", json={"email": email, "password": PASSWORD})
        assert right.status_code == 429
        assert int(right.headers["retry-after"]) >= 1
    # Everyone else at that address logs in.
    other = limited.post("/api/tokens", json={"email": bystander["email"], "password": PASSWORD})
    assert other.status_code == 201, other.text


def test_bad_tokens_do_not_lock_out_logins(client, limited):
    user = create_user(client)
    for _ in range(AUTH_FAILURES + 1):
        limited.get("/api/me", headers=MADE_UP)
    response = limited.post("/api/tokens", json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 201, response.text
