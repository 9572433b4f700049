"""Both server commands leave the client address to TRUSTED_PROXY_HOPS: a spoofed
X-Forwarded-For from a loopback peer (a peer uvicorn trusts by default) changes neither
the rate-limit bucket nor the address the server logs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from limits import parse

from service.contract import Contract
from tests.builders import PASSWORD
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV

SIGN_UP_LIMIT = parse(Contract.load().operations["create_user"]["x-rate-limit"]).amount


def sign_up(base: str, forwarded_for: str) -> int:
    body = {"name": "Spoofer", "email": f"s-{uuid.uuid4().hex[:12]}@example.com"}
    request = urllib.request.Request(
        f"{base}/api/users",
        data=json.dumps({**body, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("how", ["run", "serve"])
def test_a_spoofed_forwarded_for_picks_no_bucket_and_no_logged_address(database_url, tmp_path, how):
    log = tmp_path / "server.log"
    env = {"DATABASE_URL": database_url, "TRUSTED_PROXY_HOPS": "0", **FAST_HASHING_ENV}
    with running_server(env, how=how, log_path=log) as base:
        statuses = [sign_up(base, f"203.0.113.{n}") for n in range(SIGN_UP_LIMIT + 2)]
    assert statuses == [201] * SIGN_UP_LIMIT + [429, 429]
    logged = log.read_text()
    accessed = [line for line in logged.splitlines() if "method=POST route=/api/users " in line]
    assert len(accessed) == SIGN_UP_LIMIT + 2
    assert all("client=127.0.0.1 " in line for line in accessed)
    assert "203.0.113." not in logged
