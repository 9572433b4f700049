"""The breaking-change gate (`make spec-diff`): Optic on real edits of the contract in a
throw-away git repository, and the rules for declaring a breaking change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import spec_diff
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
        bumped = with_version(edit(SPEC.read_text(), *LIMIT_50), next_major)
        (repo / "openapi" / "openapi.yaml").write_text(bumped)
        author = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
        for command in (["add", "."], [*author, "commit", "-qm", "first"]):
            subprocess.run(["git", *command], cwd=repo, check=True, capture_output=True)
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

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(case)
            for name, case in (
                ("undeclared", undeclared),
                ("declared", declared),
                ("compatible", compatible),
                ("second_change", second_change),
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


def test_the_same_edit_recorded_for_a_new_major_passes(verdicts):
    verdict = verdicts["declared"]
    assert verdict.allowed, verdict.summary
    assert "declared for" in verdict.summary
    rules = {change.split("[")[1].split("]")[0] for change in verdict.breaking}
    assert rules == {
        "prevent narrowing parameter bounds",
        "prevent making response property optional",
    }


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
