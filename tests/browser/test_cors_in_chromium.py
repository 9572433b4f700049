"""CORS as a real browser enforces it: headless Chromium on a page from one origin calls
the API on another with `fetch` (a JSON POST with a bearer token, so with a preflight).

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skipped without.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.servers import free_port, running_server
from tests.settings import FAST_HASHING_ENV

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
    reason="headless Chromium is not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def page_servers() -> Iterator[tuple[str, str]]:
    """Two origins serving the probe page: the first will be allowed, the second not."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HERE))
    handler.log_message = lambda *_args: None  # type: ignore[method-assign]
    servers = [
        http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler) for _ in range(2)
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{server.server_address[1]}" for server in servers)  # type: ignore[misc]
    for server in servers:
        server.shutdown()


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def outcome(browser, page: str, api: str, token: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{page}/page.html?api={quote(api)}&token={quote(token)}")
    WebDriverWait(browser, 15).until(
        lambda driver: driver.find_element(By.ID, "result").text != "pending"
    )
    return browser.find_element(By.ID, "result").text


def test_the_allowed_origin_succeeds_and_another_is_blocked(page_servers, browser, tmp_path):
    allowed, unlisted = page_servers
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/browser.db",
        "CORS_ORIGINS": allowed,
        **FAST_HASHING_ENV,
    }
    with running_server(env) as api:
        credentials = {"email": "browser@example.com", "password": "browser password"}
        post_json(f"{api}/api/users", {"name": "Browser User", **credentials})
        token = post_json(f"{api}/api/tokens", credentials)["data"]["token"]

        assert outcome(browser, allowed, api, token) == (
            "status 201 From a browser request-id visible"
        )
        assert outcome(browser, unlisted, api, token) == "blocked TypeError"
