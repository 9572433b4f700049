"""The README's tour, pasted into bash against a live server, as a newcomer would.

Every command of the tour runs in one shell (so `TOKEN=…`, `ME=…` carry over), with
`localhost:8000` moved to the test server's port. Each step must exit 0; each request
must answer the status the step shows (its `HTTP/1.1` line, or the status of the error
code it prints; a success otherwise); and the lines shown under a step must appear in
what it printed, in order, once ids, times and tokens are masked (`…` elides text).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from service.http.errors import STATUS_OF, ErrorCode
from tests.servers import ROOT, running_server
from tests.settings import FAST_HASHING_ENV

README = ROOT / "README.md"
MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<request-id>"),
    (re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"), "<date>"),
    (re.compile(r"\b1\d{9}\b"), "<unix-time>"),
]
# Each request of a step writes its status to a file of its own ($TOUR_STATUSES), so what
# the step prints is untouched.
PRELUDE = (
    "curl() { command curl --write-out '%{stderr}@@status %{http_code}\\n' \"$@\" "
    '2>>"$TOUR_STATUSES"; }\n'
)


@dataclass
class Step:
    command: str
    shown: list[str]


def tour() -> list[Step]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A tour of the API") :]
    block = section[section.index("```console\n") + len("```console\n") :]
    lines = block[: block.index("\n```")].splitlines()
    steps: list[Step] = []
    continued = False
    for line in lines:
        if continued:
            steps[-1].command += "\n" + line
        elif line.startswith("$ "):
            steps.append(Step(line[2:], []))
        elif line.strip():
            steps[-1].shown.append(line)
        continued = line.endswith("\\") and (continued or line.startswith("$ "))
    return steps


def masked(line: str) -> str:
    for pattern, mask in MASKS:
        line = pattern.sub(mask, line)
    return line.strip()


def appears_in_order(shown: list[str], printed: list[str]) -> bool:
    rest = iter(masked(line) for line in printed)
    for line in shown:
        pattern = re.compile(".*".join(re.escape(part) for part in masked(line).split("…")))
        if not any(pattern.fullmatch(candidate) for candidate in rest):
            return False
    return True


def expected_status(step: Step) -> int | None:
    """What the step shows of its status; None for "a success"."""
    output = "\n".join(step.shown)
    if found := re.search(r"^HTTP/1\.1 (\d{3})", output, re.MULTILINE):
        return int(found.group(1))
    for code in ErrorCode:
        if f'"{code.value}"' in output:
            return STATUS_OF[code]
    return None


@dataclass
class Ran:
    printed: dict[int, str]  # stdout and stderr, as a terminal shows them
    statuses: dict[int, list[int]]  # of the step's requests
    exits: dict[int, int]


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[list[Step], Ran]:
    steps = tour()
    folder = tmp_path_factory.mktemp("readme")
    statuses = folder / "statuses"
    env = {"DATABASE_URL": f"sqlite:///{folder / 'tour.db'}", **FAST_HASHING_ENV}
    with running_server(env) as base:
        port = base.rsplit(":", 1)[1]
        script = PRELUDE
        for number, step in enumerate(steps):
            command = step.command.replace("localhost:8000", f"localhost:{port}")
            script += (
                f"printf '\\n@@step {number}\\n'; echo '@@step {number}' >>\"$TOUR_STATUSES\"\n"
            )
            script += f"{command}\nprintf '\\n@@exit {number} %d\\n' $?\n"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=ROOT,
            env={**environ, **env, "APP_ENV": "test", "TOUR_STATUSES": str(statuses)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
    exits = re.findall(r"^@@exit (\d+) (\d+)$", done.stdout, re.M)
    return steps, Ran(
        printed=by_step(done.stdout),
        statuses={
            n: [int(s) for s in re.findall(r"^@@status (\d{3})$", text, re.M)]
            for n, text in by_step(statuses.read_text()).items()
        },
        exits={int(n): int(code) for n, code in exits},
    )


def by_step(output: str) -> dict[int, str]:
    parts = re.split(r"^@@step (\d+)$", output, flags=re.MULTILINE)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_tools_the_tour_needs_are_installed():
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    assert missing == [], f"the README's tour needs {missing}: apt-get install {' '.join(missing)}"


def test_the_tour_is_there_and_needs_jq_and_curl():
    steps = tour()
    assert len(steps) >= 10
    assert all("…" not in step.command and "<" not in step.command for step in steps)
    assert sum("curl" in step.command for step in steps) >= 10
    section = README.read_text(encoding="utf-8").split("## A tour of the API")[1][:600]
    assert "`jq`" in section and "`curl`" in section


def test_every_step_runs_and_answers_as_shown(ran):
    steps, result = ran
    assert len(result.exits) == len(steps), result.printed
    for number, step in enumerate(steps):
        printed = result.printed[number]
        label = f"step {number}: $ {step.command}\n--- printed:\n{printed}"
        assert result.exits[number] == 0, label
        statuses = result.statuses.get(number, [])
        assert len(statuses) == step.command.count("curl "), label
        expected = expected_status(step)
        for status in statuses:
            assert status == expected if expected else 200 <= status < 300, (status, label)
        assert appears_in_order(step.shown, printed.splitlines()), label


def test_the_mask_and_elision_can_fail():
    assert appears_in_order(['{"code":"X","message":"…"}'], ['{"code":"X","message":"m"}'])
    assert not appears_in_order(['{"code":"X","message":"…"}'], ['{"code":"Y","message":"m"}'])
    assert not appears_in_order(["b", "a"], ["a", "b"])
    id_ = "0b6f6c2e-4f0a-4c1e-9d7a-3a8c1f7d2b10"
    assert appears_in_order(
        [f"/api/users/{id_}"], ["/api/users/3fa85f64-5717-4562-b3fc-2c963f66afa6"]
    )
