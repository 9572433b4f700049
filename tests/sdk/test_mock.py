"""`make mock`: Stoplight Prism (pinned in package.json) serving the contract's examples,
as a client team starts it before the service runs. What it serves validates against the
contract, lists walk on (a `nextCursor`, then a last page), an ETag is a quoted tag, and
the generated Python client reads it into its typed models."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.servers import ROOT, free_port
from tests.test_examples import REGISTRY
from tests.test_examples import ROOT as CONTRACT_ROOT
from tools import sdk

PRISM = ROOT / "node_modules" / ".bin" / "prism"
CONTRACT = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
ETAG = re.compile(CONTRACT["components"]["headers"]["ETag"]["schema"]["pattern"])

pytestmark = pytest.mark.skipif(not PRISM.exists(), reason="Prism is not installed: npm ci")


@pytest.fixture(scope="module")
def mock() -> Iterator[str]:
    """`make mock` on a free port: its base URL."""
    port = free_port()
    command = ["make", "--no-print-directory", "mock", f"MOCK_PORT={port}"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    # Stopped first: its output ends only when every process of it has.
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, 15)
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"make mock did not start:\n{output}")
                time.sleep(0.3)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout=10)


def get(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], object]:
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def valid(body: object, schema_name: str) -> None:
    from openapi_schema_validator import OAS30Validator

    validator = OAS30Validator(
        {"$ref": f"{CONTRACT_ROOT}#/components/schemas/{schema_name}"}, registry=REGISTRY
    )
    assert [e.message for e in validator.iter_errors(body)] == []


def test_a_list_walks_on_to_its_last_page(mock):
    status, headers, first = get(mock, "/posts?limit=1")
    assert status == 200
    valid(first, "PostList")
    assert isinstance(first, dict) and first["pagination"]["nextCursor"]
    assert 'rel="next"' in headers["Link"]
    _, _, last = get(mock, "/posts?limit=1", Prefer="example=last")
    assert isinstance(last, dict) and last["pagination"]["nextCursor"] is None


def test_a_resource_comes_with_a_quoted_etag(mock):
    status, headers, post = get(mock, "/posts/5117711e-812f-485c-bfac-d2cf7de19850")
    assert status == 200
    valid(post, "PostEnvelope")
    assert ETAG.match(headers["ETag"]), headers["ETag"]


def test_the_dashboard_is_a_partial_one_that_names_what_is_missing(mock):
    status, _, body = get(mock, "/dashboard", Authorization="Bearer t")
    assert status == 200
    valid(body, "DashboardEnvelope")
    assert isinstance(body, dict) and body["meta"]["errors"] == [
        {"part": "stats", "code": "TIMEOUT"}
    ]
    assert body["data"]["stats"] is None


def test_errors_are_the_envelope_with_their_code(mock):
    status, _, body = get(mock, "/users", Prefer="code=401")
    assert status == 401
    valid(body, "ErrorEnvelope")
    assert isinstance(body, dict) and body["error"]["code"] == "UNAUTHORIZED"


def test_the_generated_python_client_reads_what_the_mock_serves(mock, tmp_path):
    package = sdk.python_client(tmp_path / "sdk")
    program = tmp_path / "read_mock.py"
    program.write_text(
        "import sys\n"
        "from publishing_api_client import AuthenticatedClient, Client\n"
        "from publishing_api_client.api.posts import list_posts, get_post\n"
        "from publishing_api_client.api.dashboard import get_dashboard\n"
        "from publishing_api_client.models import PostList, PostEnvelope, DashboardEnvelope\n"
        "anyone = Client(base_url=sys.argv[1])\n"
        "page = list_posts.sync(client=anyone, limit=1)\n"
        "assert isinstance(page, PostList), page\n"
        "assert page.pagination.next_cursor and page.data[0].title\n"
        "post = get_post.sync(client=anyone, id=page.data[0].author_id)\n"
        "assert isinstance(post, PostEnvelope), post\n"
        "me = AuthenticatedClient(base_url=sys.argv[1], token='t')\n"
        "board = get_dashboard.sync(client=me)\n"
        "assert isinstance(board, DashboardEnvelope) and board.meta.partial, board\n"
        "print('the mock reads as the contract says')\n"
    )
    done = subprocess.run(
        [sys.executable, str(program), mock],
        env={**os.environ, "PYTHONPATH": str(Path(package).parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the mock reads as the contract says" in done.stdout
