"""The access log of a real server, text (`make run`) and JSON (`make serve`): one line per
request, with its route template and operationId; and nothing a client sent - body,
bearer token, password, email, query - anywhere in the whole run's log."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV


@dataclass
class Sent:
    request_id: str
    method: str
    route: str
    operation: str
    status: int


class Run:
    """Requests to one server, each with its own X-Request-ID, remembered."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sent: list[Sent] = []

    def call(
        self,
        method: str,
        path: str,
        expect: tuple[str, str],
        body: object = None,
        token: str | None = None,
    ) -> tuple[int, dict[str, object]]:
        request_id = f"log-test-{uuid.uuid4().hex}"
        headers = {"X-Request-ID": request_id}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}", data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status, raw = int(response.status), response.read()
        except urllib.error.HTTPError as error:
            status, raw = int(error.code), error.read()
        self.sent.append(Sent(request_id, method, *expect, status))
        return status, json.loads(raw) if raw else {}


def access_entries(log: str, log_format: str) -> list[dict[str, object]]:
    """The access log's entries, as dicts, from either format."""
    if log_format == "json":
        records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        return [record for record in records if record["logger"] == "access"]
    entries = []
    for line in log.splitlines():
        found = re.search(r"\[([^\]]+)\] access: (.*)$", line)
        if found:
            fields = dict(pair.split("=", 1) for pair in found.group(2).split(" "))
            entries.append({"request_id": found.group(1), **fields})
    return entries


@pytest.mark.parametrize(("how", "log_format"), [("run", "text"), ("serve", "json")])
def test_one_line_per_request_and_nothing_sent_in_the_log(database_url, tmp_path, how, log_format):
    log_path = tmp_path / "server.log"
    email = f"Secret.{uuid.uuid4().hex[:10]}@Example.com"
    password = f"pass-{uuid.uuid4().hex}"
    title = f"title-{uuid.uuid4().hex}"
    term = f"term{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": database_url, "LOG_FORMAT": log_format, **FAST_HASHING_ENV}
    with running_server(env, how=how, workers=2, log_path=log_path) as base:
        run = Run(base)
        users = ("/api/users", "create_user")
        status, _ = run.call(
            "POST",
            "/api/users",
            users,
            {"name": "Log Tester", "email": email, "password": password},
        )
        assert status == 201
        status, created = run.call(
            "POST",
            "/api/tokens",
            ("/api/tokens", "create_token"),
            {"email": email, "password": password},
        )
        token = str(created["data"]["token"])  # type: ignore[index]
        status, me = run.call("GET", "/api/me", ("/api/me", "get_me"), token=token)
        user_id = str(me["data"]["id"])  # type: ignore[index]
        posts = ("/api/posts", "create_post")
        run.call("POST", "/api/posts", posts, {"title": title, "content": title}, token=token)
        run.call("GET", f"/api/users?search={term}", ("/api/users", "list_users"), token=token)
        run.call("GET", f"/api/users/{email}", ("/api/users/{id}", "get_user"), token=token)
        run.call("GET", f"/api/nowhere/{email}", ("-", "unrouted"))
        run.call(
            "POST",
            "/api/tokens",
            ("/api/tokens", "create_token"),
            {"email": email, "password": title},
        )
        run.call("GET", "/api/me", ("/api/me", "get_me"), token=f"{token}x")
    log = log_path.read_text()

    for secret in (email, email.lower(), password, token, title, term):
        assert secret not in log, f"{secret!r} is in the log"

    entries = access_entries(log, log_format)
    for sent in run.sent:
        mine = [e for e in entries if e["request_id"] == sent.request_id]
        assert len(mine) == 1, (sent, mine)
        entry = mine[0]
        assert (entry["method"], entry["route"], entry["operation"]) == (
            sent.method,
            sent.route,
            sent.operation,
        )
        assert str(entry["status"]) == str(sent.status)
        assert float(str(entry["duration_ms"])) > 0
        assert entry["client"] == "127.0.0.1"
    # The caller's id where a token was accepted; none where it was refused.
    signed_in = [e["user"] for e in entries if e["operation"] in ("get_me", "create_post")]
    none = "-" if log_format == "text" else None
    assert signed_in == [user_id, user_id, none]
