"""The breaking-change gate (`make spec-diff`): Optic on real edits of the contract in a
throw-away git repository, and the rules for declaring a breaking change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import lifecycle, spec_diff
from tools.spec_diff import Verdict, changelog_records, decide, gate

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "openapi" / "openapi.yaml"
CHANGELOG = ROOT / "openapi" / "CHANGELOG.md"

# The two edits that once left every test green.
LIMIT_50 = (
    "        minimum: 1\n        maximum: 100\n        default: 20\n",
    "maximum: 100",
    "maximum: 50",
)
NO_COMMENT_COUNT = ("authorId, author, commentCount, createdAt", "commentCount, ", "")


def edit(text: str, where: str, old: str, new: str) -> str:
    assert text.count(where) == 1, f"the contract no longer has {where!r}"
    return text.replace(where, where.replace(old, new))


def with_version(text: str, version: str) -> str:
    current = yaml.safe_load(text)["info"]["version"]
    return text.replace(f"\n  version: {current}\n", f"\n  version: {version}\n", 1)


def repository(folder: Path) -> Path:
    """A git repository holding today's contract and changelog, committed."""
    (folder / "openapi").mkdir(parents=True)
    shutil.copy(SPEC, folder / "openapi" / "openapi.yaml")
    shutil.copy(CHANGELOG, folder / "openapi" / "CHANGELOG.md")
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    return folder


def breaking_edit() -> str:
    return edit(edit(SPEC.read_text(), *LIMIT_50), *NO_COMMENT_COUNT)


PAGE_REF = '        - $ref: "#/components/parameters/Page"\n'
SUNSET = date.fromisoformat(
    yaml.safe_load(SPEC.read_text())["components"]["parameters"]["Page"]["x-sunset"]
)


def without_page() -> str:
    """The contract with `page` (deprecated, with a sunset) removed everywhere."""
    text = SPEC.read_text()
    assert text.count(PAGE_REF) == 5
    text = text.replace(PAGE_REF, "")
    start = text.index("    Page:\n      name: page\n")
    end = text.index("    Limit:\n", start)
    return text[:start] + text[end:]


def record(repo: Path, version: str, lines: str) -> None:
    """A `## version` section, first in the repository's CHANGELOG."""
    log = repo / "openapi" / "CHANGELOG.md"
    text = log.read_text()
    first = text.index("\n## ") + 1
    log.write_text(text[:first] + f"## {version}\n\n{lines}\n" + text[first:])


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[str, Any]:
    """Each case in its own repository, all at once (Optic takes seconds per diff)."""
    current = str(yaml.safe_load(SPEC.read_text())["info"]["version"])
    next_major = f"{int(current.split('.')[0]) + 1}.0.0"

    def undeclared() -> subprocess.CompletedProcess[str]:
        repo = repository(tmp_path_factory.mktemp("undeclared"))
        (repo / "openapi" / "openapi.yaml").write_text(breaking_edit())
        command = [sys.executable, "-m", "tools.spec_diff", "--repo", str(repo), "--base", "HEAD"]
        env = {**os.environ, "CI": "true"}  # as in CI, where Optic would leave a file behind
        return subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    def declared() -> Verdict:
        repo = repository(tmp_path_factory.mktemp("declared"))
        (repo / "openapi" / "openapi.yaml").write_text(with_version(breaking_edit(), next_major))
        record = (
            f"## {next_major}\n\n### Breaking\n- `limit` is at most 50.\n"
            "- `commentCount` may be left out of a post.\n\n"
        )
        log = repo / "openapi" / "CHANGELOG.md"
        text = log.read_text()
        first = text.index("\n## ") + 1
        log.write_text(text[:first] + record + text[first:])
        return gate(repo, "HEAD")

    def second_change() -> tuple[Verdict, Verdict]:
        """A second breaking change in a version not released yet (the last commit already
        has it): judged against the last release, so both changes count, and they pass
        only once recorded for that version."""
        repo = repository(tmp_path_factory.mktemp("second"))
        author = ["-c", "user.name=t", "-c", "user.email=t@example.com"]

        def commit(text: str, message: str) -> None:
            (repo / "openapi" / "openapi.yaml").write_text(text)
            for command in (["add", "."], [*author, "commit", "-qm", message]):
                subprocess.run(["git", *command], cwd=repo, check=True, capture_output=True)

        # A release before the lifecycle rules apply (x-deprecate-first-from): a major
        # bump and a record are what a breaking change needs.
        released = SPEC.read_text().replace(
            "x-deprecate-first-from: 5.0.0", "x-deprecate-first-from: 99.0.0"
        )
        commit(released, "released")
        bumped = with_version(edit(released, *LIMIT_50), next_major)
        commit(bumped, "first")
        (repo / "openapi" / "openapi.yaml").write_text(edit(bumped, *NO_COMMENT_COUNT))
        undeclared = gate(repo, "HEAD")
        log = repo / "openapi" / "CHANGELOG.md"
        text = log.read_text()
        first = text.index("\n## ") + 1
        record = (
            f"## {next_major}\n\n### Breaking\n- `limit` is at most 50.\n"
            "- `commentCount` may be left out of a post.\n\n"
        )
        log.write_text(text[:first] + record + text[first:])
        return undeclared, gate(repo, "HEAD")

    def removed_page(today: date) -> Verdict:
        repo = repository(tmp_path_factory.mktemp("removed-page"))
        (repo / "openapi" / "openapi.yaml").write_text(with_version(without_page(), next_major))
        record(repo, next_major, "### Breaking\n- `page` is gone: walk lists by `cursor`.\n")
        return gate(repo, "HEAD", today)

    def compatible() -> Verdict:
        repo = repository(tmp_path_factory.mktemp("compatible"))
        wider = edit(SPEC.read_text(), *LIMIT_50[:2], "maximum: 200")
        wider = wider.replace(
            "      description: Case-insensitive substring to look for.",
            "      description: Case-insensitive text to look for in the list.",
            1,
        )
        (repo / "openapi" / "openapi.yaml").write_text(wider)
        return gate(repo, "HEAD")

    tmp_path_factory.getbasetemp()  # made once: the cases' threads would race to make it
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(case)
            for name, case in (
                ("undeclared", undeclared),
                ("declared", declared),
                ("compatible", compatible),
                ("second_change", second_change),
                ("page, the day before its sunset", lambda: removed_page(SUNSET.replace(day=29))),
                ("page, on its sunset", lambda: removed_page(SUNSET)),
            )
        }
        return {name: future.result() for name, future in futures.items()}


def test_an_undeclared_breaking_edit_fails_with_optics_explanation(verdicts):
    result = verdicts["undeclared"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert "query parameter 'limit': 'maximum' went down from 100 to 50" in result.stdout
    assert "cannot make required response property 'commentCount' optional" in result.stdout
    assert "they are not declared" in result.stderr
    assert "x GET /posts: [prevent narrowing parameter bounds]" in result.stderr
    assert not (ROOT / "ci-run-details.json").exists()


def test_the_same_edit_recorded_for_a_new_major_is_refused_as_never_deprecated(verdicts):
    """A major bump and a CHANGELOG line are no longer enough (from the version the
    contract's `x-deprecate-first-from` names): deprecate first."""
    verdict = verdicts["declared"]
    assert not verdict.allowed, verdict.summary
    assert "a major bump alone is not enough" in verdict.summary
    assert "query parameter 'limit': 'maximum' went down" in verdict.summary
    assert "(it was never deprecated)" in verdict.summary
    rules = {change.split("[")[1].split("]")[0] for change in verdict.breaking}
    assert rules == {
        "prevent narrowing parameter bounds",
        "prevent making response property optional",
    }


def test_removing_a_deprecated_parameter_before_its_sunset_is_refused(verdicts):
    verdict = verdicts["page, the day before its sunset"]
    assert not verdict.allowed, verdict.summary
    assert (
        "GET /posts: [removes a parameter] query parameter 'page' removed (deprecated, but its "
        f"sunset, {SUNSET.isoformat()}, has not come)"
    ) in verdict.summary


def test_removing_it_once_its_sunset_has_come_passes(verdicts):
    verdict = verdicts["page, on its sunset"]
    assert verdict.allowed, verdict.summary
    assert "declared for" in verdict.summary
    assert len(verdict.breaking) == 5  # the five lists' `page`; Optic alone saw none
    assert all("query parameter 'page' removed" in change for change in verdict.breaking)


def test_a_compatible_edit_passes_and_is_reported(verdicts):
    verdict = verdicts["compatible"]
    assert verdict.allowed, verdict.summary
    assert verdict.breaking == ()
    assert "no breaking change" in verdict.summary
    assert "/schema/maximum changed" in verdict.report


BASE = {"info": {"version": "1.4.2"}}
CHANGES = ("GET /posts: [prevent narrowing parameter bounds] query parameter 'limit'",)
RECORD = "# Changelog\n\n## 2.0.0 - 2026-12-01\n\n### Breaking\n- `limit` is at most 50.\n"


@pytest.mark.parametrize(
    ("version", "changelog", "extension", "allowed", "says"),
    [
        ("2.0.0", RECORD, None, True, "declared for 2.0.0 (a major bump from 1.4.2)"),
        ("1.5.0", RECORD.replace("2.0.0", "1.5.0"), None, False, "not a major bump"),
        ("2.0.0", "", None, False, "nothing records them for 2.0.0"),
        ("2.0.0", RECORD.replace("### Breaking", "### Added"), None, False, "nothing records"),
        ("2.0.0", RECORD.replace("2.0.0", "3.0.0"), None, False, "nothing records"),
        ("1.4.2", "", None, False, "they are not declared"),
        ("2.0.0", "", [{"version": "2.0.0", "change": "limit <= 50"}], True, "declared for"),
        ("2.0.0", "", [{"version": "1.0.0", "change": "older"}], False, "nothing records"),
    ],
)
def test_what_declares_a_breaking_change(version, changelog, extension, allowed, says):
    head: dict = {"info": {"version": version}}
    if extension is not None:
        head["info"]["x-breaking-changes"] = extension
    verdict = decide(BASE, head, changelog, CHANGES, "main")
    assert verdict.allowed is allowed
    assert says in verdict.summary


def test_the_changelog_section_ends_at_the_next_version():
    changelog = "## 2.0.0\n### Added\n- x\n\n## 1.0.0\n### Breaking\n- old\n"
    assert changelog_records(changelog, "2.0.0") == []
    assert changelog_records(changelog, "1.0.0") == ["old"]


def test_the_default_base_is_the_merge_base_or_the_previous_commit(tmp_path):
    repo = repository(tmp_path)
    first = spec_diff.git(repo, "rev-parse", "HEAD")
    assert spec_diff.default_base(repo) is None  # one commit: nothing earlier
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "two"], cwd=repo, check=True)
    assert spec_diff.default_base(repo) == first  # on main: the previous commit
    second = spec_diff.git(repo, "rev-parse", "HEAD")
    subprocess.run(["git", "checkout", "-qb", "topic"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "three"], cwd=repo, check=True)
    assert spec_diff.default_base(repo) == second  # on a branch: where it left main


def test_a_second_breaking_change_of_an_unreleased_version_is_judged_against_the_release(
    verdicts,
):
    undeclared, declared = verdicts["second_change"]
    assert not undeclared.allowed
    assert "nothing records them" in undeclared.summary
    assert declared.allowed, declared.summary
    # Both changes since the release, not only the last commit's.
    assert any("commentCount" in change for change in declared.breaking)
    assert any("maximum" in change for change in declared.breaking)


LIFECYCLE = {"info": {"version": "5.0.0", "x-deprecate-first-from": "5.0.0"}}
DEPRECATED_LIMIT = {
    "in": "query",
    "name": "limit",
    "deprecated": True,
    "x-deprecated-since": "2026-01-01",
    "x-sunset": "2026-07-01",
}


def with_limit(**changes: object) -> dict:
    return {
        "info": {"version": "4.2.0", "x-deprecate-first-from": "5.0.0"},
        "paths": {"/posts": {"get": {"parameters": [{**DEPRECATED_LIMIT, **changes}]}}},
    }


@pytest.mark.parametrize(
    ("base", "today", "allowed", "says"),
    [
        (with_limit(), date(2026, 7, 1), True, "declared for 5.0.0"),
        (with_limit(), date(2026, 6, 30), False, "its sunset, 2026-07-01, has not come"),
        (with_limit(deprecated=False), date(2027, 1, 1), False, "it was never deprecated"),
        (with_limit(name="other"), date(2027, 1, 1), False, "it was never deprecated"),
    ],
)
def test_a_breaking_change_needs_a_deprecation_whose_sunset_has_come(base, today, allowed, says):
    changelog = "## 5.0.0\n### Breaking\n- `limit` is at most 50.\n"
    verdict = decide(base, LIFECYCLE, changelog, CHANGES, "main", today=today)
    assert verdict.allowed is allowed, verdict.summary
    assert says in verdict.summary


def test_a_deprecated_operation_covers_every_change_to_it():
    base = with_limit(deprecated=False)
    base["paths"]["/posts"]["get"] |= {k: v for k, v in DEPRECATED_LIMIT.items() if k[0] in "dx"}
    changelog = "## 5.0.0\n### Breaking\n- `GET /posts` is gone.\n"
    removed = ("GET /posts: [prevent operation removal] cannot remove an operation",)
    assert decide(base, LIFECYCLE, changelog, removed, "main", today=date(2026, 7, 1)).allowed


NOTICE = "## 4.2.0\n### Deprecated\n- `limit`, sunset 2026-07-01.\n"


@pytest.mark.parametrize(
    ("head", "changelog", "says"),
    [
        (with_limit(), NOTICE, None),
        (with_limit(), NOTICE.replace("Deprecated", "Changed"), "no line under '### Deprecated'"),
        (with_limit(**{"x-sunset": None}), NOTICE, "without x-deprecated-since and x-sunset"),
        (with_limit(**{"x-sunset": "2026-03-01"}), NOTICE, "less than 180 days"),
    ],
)
def test_a_new_deprecation_is_announced_with_its_dates(head, changelog, says):
    base = with_limit(deprecated=False)
    problems = lifecycle.unannounced(base, head, changelog)
    assert problems == [] if says is None else says in " ".join(problems)
    verdict = decide(base, head, changelog, (), "main")
    assert verdict.allowed is (says is None), verdict.summary


def test_a_sunset_never_moves_earlier():
    moved = with_limit(**{"x-sunset": "2026-06-30"})
    (problem,) = lifecycle.unannounced(with_limit(), moved, "")
    assert "its sunset moved earlier, 2026-07-01 -> 2026-06-30" in problem
