"""Stand-ins for the dashboard's core services: real HTTP servers on 127.0.0.1, each in a
thread of the test, answering as a test tells them (bodies that follow
openapi/upstreams/*.yaml, errors, slowness, broken JSON), and remembering what they got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0  # seconds before answering
    raw: bytes | None = None  # sent as is instead of `body`
    drop: bool = False  # close the connection without answering


@dataclass
class Stub:
    url: str
    reply: Callable[[str], Reply]
    seen: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@contextmanager
def stub_server(reply: Callable[[str], Reply]) -> Iterator[Stub]:
    """A server answering every GET with `reply(path)`; yields it with its base URL."""
    port = free_port()
    stub = Stub(f"http://127.0.0.1:{port}/api", reply)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, no 40 ms stall

        def do_GET(self) -> None:
            stub.seen.append({name.lower(): value for name, value in self.headers.items()})
            stub.paths.append(self.path)
            answer = stub.reply(self.path)
            if answer.drop:
                self.close_connection = True
                return
            if answer.delay:
                time.sleep(answer.delay)
            payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refusing_url() -> str:
    """A base URL where nothing listens: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}/api"


def profile_of(user: dict[str, Any]) -> dict[str, Any]:
    """`GET /users/{id}` of openapi/upstreams/profile.yaml for this user."""
    return {"data": user}


def stats_of(user_id: str, **counts: int) -> dict[str, Any]:
    """`GET /users/{id}/stats` of openapi/upstreams/stats.yaml."""
    values = {"posts": 3, "published": 2, "drafts": 1, "commentsWritten": 4, "commentsReceived": 5}
    return {"data": {"userId": user_id, **values, **counts}}


def notifications_of(total: int, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`GET /notifications` of openapi/upstreams/notifications.yaml."""
    return {
        "data": items or [],
        "pagination": {
            "page": 1,
            "limit": 5,
            "total": total,
            "totalPages": -(-total // 5),
            "totalKind": "exact",
            "nextCursor": None,
        },
    }


def notification(actor_id: str) -> dict[str, Any]:
    return {
        "id": "0b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10",
        "type": "comment",
        "actor": {"id": actor_id, "name": "Someone"},
        "postId": "1b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10",
        "postTitle": "A post",
        "commentId": "2b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10",
        "read": False,
        "createdAt": "2026-11-25T12:00:00.000000Z",
    }
