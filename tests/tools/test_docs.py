"""`make docs`: one static HTML reference of the contract that opens without a network."""

from __future__ import annotations

import re
import subprocess

from tests.servers import ROOT


def test_make_docs_builds_one_self_contained_page():
    done = subprocess.run(
        ["make", "--no-print-directory", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page = (ROOT / "build" / "docs" / "index.html").read_text(encoding="utf-8")
    assert "<title>Publishing API</title>" in page
    assert "create_user" in page and "ErrorEnvelope" in page
    assert not re.search(r"<script[^>]+src=", page), "the page loads its scripts from elsewhere"
