"""docs/performance.md is rendered from the committed results files, never edited.

`make perf-doc` (tools/perf_doc.py) writes the page from bench/results/*.json; a figure
pasted into the page, or a results file committed without rendering, fails here. The
generator also reads the smallest results file a run could leave.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.servers import ROOT
from tools import perf_doc

PAGE = ROOT / "docs" / "performance.md"


def test_the_page_is_exactly_what_the_committed_results_render():
    rendered = perf_doc.render_folder(perf_doc.RESULTS)
    assert PAGE.read_text(encoding="utf-8") == rendered, (
        "docs/performance.md differs from what bench/results/ renders: run `make perf-doc`"
    )


def test_every_committed_run_is_on_the_page_with_its_machine_load_and_command():
    page = PAGE.read_text(encoding="utf-8")
    files = perf_doc.results_files(perf_doc.RESULTS)
    assert files, "no results file in bench/results/"
    for path in files:
        assert f"bench/results/{path.name}" in page
    measured = [p for p in files if perf_doc.load(p)["meta"].get("source") == "measured"]
    assert measured, "at least one run measured here, not transcribed"
    for path in files:
        meta = perf_doc.load(path)["meta"]
        assert meta["source"] == "measured" or meta["source"].startswith("transcribed from the")
        assert meta["command"] and meta["date"]


def test_a_pasted_figure_fails_the_check(tmp_path):
    pasted = tmp_path / "performance.md"
    page = PAGE.read_text(encoding="utf-8")
    pasted.write_text(page, encoding="utf-8")
    assert perf_doc.main(["--check", "--output", str(pasted)]) == 0
    cell = "| keep-alive | get | "
    at = page.index(cell) + len(cell)
    pasted.write_text(page[:at] + "9" + page[at:], encoding="utf-8")
    assert perf_doc.main(["--check", "--output", str(pasted)]) == 1


MINIMAL = {
    "databases": {
        "sqlite": {
            "medians": {
                "keep-alive": {
                    "get": {
                        "service": {"rps": 812.4, "p50": 40.2, "p99": 90.7},
                        "connexion": {"rps": 406.2, "p99": 120},
                    }
                }
            }
        }
    }
}


def test_a_minimal_results_file_renders(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(MINIMAL))
    page = perf_doc.render_folder(tmp_path)
    assert "### sqlite" in page
    assert "| keep-alive | get | 812 | 406 (2.00x) |" in page
    assert "| keep-alive | get | 40 / 91 | - / 120 |" in page
    assert "- machine: not recorded" in page
    assert "- command: not recorded" in page
    assert "- load (1-minute load average): not recorded" in page
    assert "Failures (non-2xx answers, socket errors): not recorded in this file." in page


def test_failures_load_and_machine_are_rendered(tmp_path):
    document = json.loads(json.dumps(MINIMAL))
    document["meta"] = {
        "date": "2026-12-01T09:00:00Z",
        "source": "measured",
        "command": "BENCH_REPEAT=1 make bench",
        "machine": {"arch": "x86_64", "cores": 2, "cpu": "Some CPU", "python": "3.11.7"},
        "load_at_start": {"1m": 4.25},
    }
    sqlite = document["databases"]["sqlite"]
    sqlite["load_average"] = {"min": 2.0, "max": 7.5}
    counts = {"requests": 900, "non2xx": 12, "unexpected": 12, "socket_errors": 3}
    counts |= {"errors_read": 2, "errors_timeout": 1}
    clean = {"requests": 800, "non2xx": 0, "unexpected": 0, "socket_errors": 0}
    sqlite["failures"] = {"keep-alive": {"get": {"service": clean, "connexion": counts}}}
    (tmp_path / "2026-12-01.json").write_text(json.dumps(document))
    page = perf_doc.render_folder(tmp_path)
    assert "x86_64, 2 cores, CPU Some CPU, Python 3.11.7" in page
    assert "4.2 at the start (the machine's other work); during the run sqlite 2.0 to 7.5" in page
    assert "`BENCH_REPEAT=1 make bench`" in page
    assert "| connexion | keep-alive | get | 2xx | 900 | 12 | 12 | 3 (read 2, timeout 1) |" in page
    assert "| service | keep-alive | get |" not in page  # no failure: no row


def test_the_working_files_are_not_rendered(tmp_path):
    (tmp_path / "latest.json").write_text(json.dumps(MINIMAL))
    (tmp_path / "scale.json").write_text("[]")
    assert perf_doc.results_files(tmp_path) == []
    assert "No results file yet" in perf_doc.render_folder(tmp_path)


def test_a_scale_run_renders_with_the_cursor_target(tmp_path):
    def row(rows: int, position: str, p50: float) -> dict[str, object]:
        cell = {"p50": p50, "p99": p50 * 2}
        return {
            "database": "sqlite",
            "rows": rows,
            "sortBy": "title",
            "search": None,
            "position": position,
            "page": 1,
            "cursor": cell,
        }

    rows = [row(1000, "first", 2.0), row(1000, "last", 2.5), row(1000000, "last", 5.0)]
    (tmp_path / "scale-old.json").write_text(json.dumps(rows))  # before it had metadata
    page = perf_doc.render_folder(tmp_path)
    assert "| 1,000,000 | title | - | last | 5.0 / 10.0 |" in page
    assert "| title | 2.0 | 5.0 | 2.50x |" in page


@pytest.mark.parametrize("target", ["perf-doc"])
def test_make_has_the_target(target):
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tools.perf_doc" in done.stdout
