"""`make spec-diff`: what changed in the contract since a git ref, and whether it may.

    python -m tools.spec_diff [--base REF] [--repo DIR] [--today YYYY-MM-DD]

Optic (`optic diff --check`, rules in optic.yml) compares `openapi/openapi.yaml` at REF
with the working tree and prints every changed operation, marking breaking changes
with `x`; the gate adds the removals Optic lets pass (an optional parameter, a property
of a named schema: tools/lifecycle.py). The gate passes when nothing breaks; otherwise
only when each breaking change is about what REF's contract deprecated (`deprecated:
true`, `x-deprecated-since`, `x-sunset`) with a sunset that has come (the operation, or
the parameter or property the change names), the changes are recorded for the new
`info.version`, under `### Breaking` in its section of `openapi/CHANGELOG.md` or as
`info.x-breaking-changes` entries with that `version`, and that version is a major bump.
A major bump alone is not enough: deprecate first, remove after the sunset. What the
working tree deprecates anew needs both dates, a sunset at least 180 days after the
deprecation, and a line naming it under `### Deprecated` in that version's section; a
sunset never moves earlier. When the contract at REF already has the working tree's
`info.version` (a version not released yet), the comparison is with the last commit
before it whose version differed: the last release. REF defaults to the merge base with
`main`, or to the previous commit when that is the commit checked out (as on `main`
itself).

Exit status: 0 allowed, 1 a breaking change that is not declared, 2 the tool failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from tools import lifecycle

TOOLS_ROOT = Path(__file__).resolve().parent.parent
OPTIC = TOOLS_ROOT / "node_modules" / ".bin" / "optic"
OPTIC_CONFIG = TOOLS_ROOT / "optic.yml"
SPEC = Path("openapi/openapi.yaml")
CHANGELOG = Path("openapi/CHANGELOG.md")
OPERATION_LINE = re.compile(r"^[x✔] (?P<operation>[A-Z]+ /\S*):")
BREAKING_LINE = re.compile(r"^\s+x (?P<finding>\[[^\]]+\] .*)$")
WEB_HINT = "Rerun this command with the --web flag"
POLICY = "x-deprecate-first-from"


class GateError(Exception):
    """The gate could not run (no git, no Optic, an unreadable document)."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    summary: str
    report: str = ""
    breaking: tuple[str, ...] = ()


def git(repo: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def default_base(repo: Path) -> str | None:
    """The merge base with main (or origin/main); the previous commit if that is HEAD."""
    head = git(repo, "rev-parse", "HEAD")
    if head is None:
        return None
    for main in ("main", "origin/main"):
        merge_base = git(repo, "merge-base", "HEAD", main)
        if merge_base is not None and merge_base != head:
            return merge_base
    return git(repo, "rev-parse", "--verify", "--quiet", "HEAD~1")


def major(version: str) -> int | None:
    found = re.match(r"\s*v?(\d+)\.\d+", version)
    return int(found.group(1)) if found else None


def changelog_records(changelog: str, version: str) -> list[str]:
    """The items under `### Breaking` in the `## <version>` section."""
    return lifecycle.changelog_items(changelog, version, "Breaking")


def info_records(document: dict[str, Any], version: str) -> list[str]:
    """`info.x-breaking-changes` entries (`{version, change}`) for this version."""
    entries = document.get("info", {}).get("x-breaking-changes") or []
    return [
        str(entry.get("change", ""))
        for entry in entries
        if isinstance(entry, dict) and str(entry.get("version")) == version
    ]


def breaking_changes(report: str) -> tuple[str, ...]:
    """`OPERATION: [rule] message` for each failed check in Optic's report, once each."""
    found: dict[str, None] = {}
    operation = "the document"
    for line in report.splitlines():
        if heading := OPERATION_LINE.match(line):
            operation = heading.group("operation")
        elif failed := BREAKING_LINE.match(line):
            found[f"{operation}: {failed.group('finding').strip()}"] = None
    return tuple(found)


def run_optic(base_file: Path, head_file: Path) -> tuple[int, str]:
    if not OPTIC.exists():
        raise GateError(f"{OPTIC} is missing: run `npm ci` (or `make install`)")
    # Without CI in its environment: in CI mode Optic also writes ci-run-details.json here.
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    env |= {"OPTIC_TELEMETRY_LEVEL": "off", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    command = [str(OPTIC), "diff", str(base_file), str(head_file), "--check"]
    command += ["--standard", str(OPTIC_CONFIG)]
    done = subprocess.run(
        command, cwd=TOOLS_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def judge(
    base_text: str,
    head_text: str,
    changelog: str,
    head_file: Path,
    label: str,
    today: date | None = None,
) -> Verdict:
    """Diff two versions of the document; allow what does not break, or is declared."""
    if base_text.strip() == head_text.strip():
        return Verdict(True, f"spec-diff: the contract is unchanged since {label}")
    try:
        base, head = yaml.safe_load(base_text), yaml.safe_load(head_text)
    except yaml.YAMLError as error:
        raise GateError(f"the contract is not YAML: {error}") from error
    with tempfile.TemporaryDirectory(prefix="spec-diff-") as folder:
        base_file = Path(folder) / f"openapi@{re.sub(r'[^A-Za-z0-9._-]', '_', label)}.yaml"
        base_file.write_text(base_text, encoding="utf-8")
        status, report = run_optic(base_file, head_file)
    report = "\n".join(line for line in report.splitlines() if WEB_HINT not in line)
    breaking = breaking_changes(report)
    if status not in (0, 1) or (status == 1 and not breaking):
        raise GateError(f"optic diff failed (exit status {status}):\n{report}")
    breaking += tuple(lifecycle.removals(base, head))
    return decide(base, head, changelog, breaking, label, report, today)


def deprecate_first(base: dict[str, Any], head: dict[str, Any]) -> bool:
    """Whether the new version must deprecate before it breaks: from the version
    `info.x-deprecate-first-from` names on (4.0.0, the release that brought the rule,
    still breaks as before); removing that field is refused as if it held."""
    since = base["info"].get(POLICY) or head["info"].get(POLICY)
    first, new = major(str(since or "")), major(str(head["info"]["version"]))
    return first is not None and new is not None and new >= first


def decide(
    base: dict[str, Any],
    head: dict[str, Any],
    changelog: str,
    breaking: tuple[str, ...],
    label: str,
    report: str = "",
    today: date | None = None,
) -> Verdict:
    """Breaking changes pass only when each is about what was deprecated and whose
    sunset has come, and they are recorded for the new version, a major bump; new
    deprecations only when announced."""
    today = today or date.today()
    announced = lifecycle.unannounced(base, head, changelog)
    if announced:
        listed = "".join(f"\n  x {problem}" for problem in announced)
        how = (
            "give each x-deprecated-since and x-sunset (180 days or more later, never "
            f"earlier than before) and name it under '### Deprecated' in {CHANGELOG}"
        )
        return Verdict(False, f"spec-diff: a deprecation is not declared: {how}.{listed}", report)
    if not breaking:
        return Verdict(True, f"spec-diff: no breaking change since {label}", report)
    old, new = str(base["info"]["version"]), str(head["info"]["version"])
    count = f"{len(breaking)} breaking change{'s' if len(breaking) > 1 else ''} since {label}"
    early = lifecycle.premature(breaking, base, today) if deprecate_first(base, head) else []
    if early:
        how = (
            "undo them; to remove or change something, first deprecate it (deprecated: "
            "true, x-deprecated-since, x-sunset) and list it under '### Deprecated', then "
            "remove it once its sunset has come, with a major version and a line under "
            "'### Breaking' (a major bump alone is not enough)"
        )
        listed = "".join(f"\n  x {change}" for change in early)
        summary = f"spec-diff: {count}; not deprecated with a sunset that has come: {how}.{listed}"
        return Verdict(False, summary, report, breaking)
    records = changelog_records(changelog, new) + info_records(head, new)
    old_major, new_major = major(old), major(new)
    bumped = old_major is not None and new_major is not None and new_major > old_major
    if new == old:
        records = []  # a record for this version is the previous breaking change's
    if records and bumped:
        summary = f"spec-diff: {count}, declared for {new} (a major bump from {old})"
        return Verdict(True, summary, report, breaking)
    if new == old:
        why = f"they are not declared (info.version is still {old})"
    elif records:
        why = f"they are recorded for {new}, but {new} is not a major bump from {old}"
    elif bumped:
        why = f"info.version is {new}, but nothing records them for {new}"
    else:
        why = f"they are not declared for {new}"
    how = (
        f"undo them, or set info.version to a new major ({(old_major or 0) + 1}.0.0) and "
        f"list them under '### Breaking' in its section of {CHANGELOG} "
        "(or as info.x-breaking-changes entries with that version)"
    )
    listed = "".join(f"\n  x {change}" for change in breaking)
    summary = f"spec-diff: {count}; {why}: {how}.{listed}"
    return Verdict(False, summary, report, breaking)


def release_base(repo: Path, label: str, version: str) -> str:
    """The commit to judge against: `label`, unless the contract there already has the
    working tree's `version` (a version not released yet, which several changes make):
    then the newest commit before it, on its first-parent line, whose contract had
    another version. Every breaking change of an unreleased version is judged against the
    last release, so each must be recorded for it, however many commits make it."""
    changes = git(repo, "log", "--first-parent", "--format=%H", label, "--", SPEC.as_posix())
    for commit in (changes or "").split():
        text = git(repo, "show", f"{commit}:{SPEC.as_posix()}")
        if text is None:
            break
        if str(yaml.safe_load(text)["info"]["version"]) != version:
            return commit
    return label


def gate(repo: Path, base_ref: str | None, today: date | None = None) -> Verdict:
    label = base_ref or default_base(repo)
    if label is None:
        return Verdict(True, "spec-diff: no earlier commit to compare the contract with")
    if (repo / SPEC).exists():
        version = str(yaml.safe_load((repo / SPEC).read_text(encoding="utf-8"))["info"]["version"])
        label = release_base(repo, label, version)
    base_text = git(repo, "show", f"{label}:{SPEC.as_posix()}")
    if base_text is None:
        if git(repo, "rev-parse", "--verify", "--quiet", f"{label}^{{commit}}") is None:
            raise GateError(f"{label!r} is not a commit of {repo}")
        return Verdict(True, f"spec-diff: {SPEC} does not exist at {label}; nothing to compare")
    head_file = repo / SPEC
    changelog_file = repo / CHANGELOG
    changelog = changelog_file.read_text(encoding="utf-8") if changelog_file.exists() else ""
    short = git(repo, "rev-parse", "--short", label) or label
    shown = short if re.fullmatch(r"[0-9a-f]{40}", label) else f"{label} ({short})"
    head_text = head_file.read_text(encoding="utf-8")
    return judge(base_text, head_text, changelog, head_file, shown, today)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.spec_diff", description=__doc__)
    parser.add_argument("--base", help="git ref to compare with (default: see above)")
    parser.add_argument("--repo", type=Path, default=TOOLS_ROOT, help="the repository")
    parser.add_argument(
        "--today", type=date.fromisoformat, help="the day sunsets are judged on (default: today)"
    )
    args = parser.parse_args(argv)
    try:
        verdict = gate(args.repo.resolve(), args.base, args.today)
    except (GateError, subprocess.TimeoutExpired) as error:
        print(f"spec-diff: {error}", file=sys.stderr)
        return 2
    if verdict.report:
        print(verdict.report)
    print(verdict.summary, file=sys.stdout if verdict.allowed else sys.stderr)
    return 0 if verdict.allowed else 1


if __name__ == "__main__":
    sys.exit(main())
