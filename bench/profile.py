"""Where a loaded worker's time goes: `python -m bench.profile [system] [scenario]`.

Starts one system of `make bench` (the service by default) on a fresh copy of the seeded
SQLite database, loads one scenario with wrk (keep-alive, 64 connections), samples every
worker with py-spy meanwhile, and prints the share of
samples by the innermost frame's library ("self" time) and by the layers on the stack
("inclusive" time). Only samples that hold the GIL count: each worker is one
interpreter, so that is the time its requests compete for. py-spy needs ptrace, as root
has.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import ORIGIN, ROOT, SCENARIOS, SYSTEMS, Database, ensure_wrk
from tests.servers import free_port, gunicorn_command, wait_until_up

SECONDS = int(os.environ.get("BENCH_PROFILE_SECONDS", "10"))

# (label, pattern on a frame's file): the first that matches names the frame's library.
LIBRARIES = [
    ("sqlite3 / psycopg (driver)", r"sqlite3|psycopg"),
    ("sqlalchemy", r"/sqlalchemy/"),
    ("connexion", r"/connexion/"),
    ("flask / werkzeug", r"/flask/|/werkzeug/|/flask_limiter/"),
    ("starlette", r"/starlette/"),
    ("fastapi / pydantic", r"/fastapi/|/pydantic"),
    ("jsonschema", r"/jsonschema|/referencing/|/rpds"),
    ("limits", r"/limits/"),
    ("uvicorn / httptools / h11", r"/uvicorn/|httptools|/h11/"),
    ("a2wsgi / anyio", r"/a2wsgi/|/anyio/"),
    ("asyncio / uvloop (event loop)", r"asyncio/|selectors|uvloop"),
    ("threads (hand-offs)", r"threading\.py|concurrent/futures|queue\.py"),
    ("json", r"/json/"),
    ("this project", r"/(service|handlers|models|bench)/"),
    ("python stdlib", r"python3\.\d+/"),
]
# Layers counted inclusively: a sample counts once for each of these on its stack.
LAYERS = [
    ("token lookup (token_info)", r"token_info|_authenticate"),
    ("the database (any query)", r"sqlalchemy/engine/base\.py"),
    ("connexion validation", r"connexion/middleware/request_validation|request_validation\.py"),
    ("connexion security", r"connexion/middleware/security|connexion/security"),
    ("rate limits", r"rate_limits\.py|flask_limiter|/limits/"),
    ("Flask request handling", r"flask/app\.py"),
    ("handler", r"/handlers/"),
    ("uvicorn's HTTP protocol", r"uvicorn/protocols"),
]


def library(frame: str) -> str:
    for label, pattern in LIBRARIES:
        if re.search(pattern, frame):
            return label
    return "other"


def summarize(raw: str) -> str:
    own: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[library(frames[-1])] += count
        functions[re.sub(r"\(/.*/(site-packages|lib/python3\.\d+)/", "(", frames[-1])] += count
        for label, pattern in LAYERS:
            if any(re.search(pattern, frame) for frame in frames):
                layers[label] += count
    lines = [f"{total} samples holding the GIL; self time by library:"]
    lines += [f"  {share / total:6.1%}  {name}" for name, share in own.most_common()]
    lines.append("self time by function, the first 15:")
    lines += [f"  {share / total:6.1%}  {name}" for name, share in functions.most_common(15)]
    lines.append("inclusive time by layer (a sample counts for every layer on its stack):")
    lines += [f"  {share / total:6.1%}  {name}" for name, share in layers.most_common()]
    return "\n".join(lines)


def spy_command(pid: str, output: str) -> list[str]:
    """py-spy sampling one worker without pausing it, in its raw (collapsed) format."""
    spy = str(Path(sys.executable).parent / "py-spy")
    options = ["--duration", str(SECONDS), "--rate", "200", "--format", "raw", "--nonblocking"]
    # Only samples holding the GIL: what keeps the worker's one interpreter busy, not its
    # threads waiting for work or for the GIL itself.
    options += ["--gil", "--full-filenames"]
    return [spy, "record", "--pid", pid, *options, "--output", output]


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "service"
    scenario = sys.argv[2] if len(sys.argv) > 2 else "get"
    system = next(s for s in SYSTEMS if s.name == name)
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as folder:
        database = Database("sqlite", Path(folder))
        user_id = database.user_ids[500]
        with database.fresh() as database_url:
            port = free_port()
            env = {**os.environ, "DATABASE_URL": database_url, **system.env}
            command = gunicorn_command(system.app, system.worker, 2, port)
            server = subprocess.Popen(command, cwd=ROOT, env=env)
            try:
                base = f"http://127.0.0.1:{port}"
                wait_until_up(f"{base}/api/users/{user_id}", server)
                time.sleep(1)
                children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
                path, script = SCENARIOS[scenario]
                args = [wrk, "-t2", "-c64", f"-d{SECONDS + 3}s"]
                args += ["-H", f"Authorization: Bearer {database.token}", "-H", f"Origin: {ORIGIN}"]
                if script:
                    args += ["-s", str(ROOT / "bench" / script)]
                load = subprocess.Popen(
                    [*args, base + path.format(id=user_id), "--", f"profile-{time.time_ns()}"],
                    stdout=subprocess.DEVNULL,
                )
                time.sleep(2)
                raw = ""
                spies = [
                    subprocess.Popen(
                        spy_command(pid, f"{folder}/{pid}.txt"),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for pid in children.split()
                ]
                for spy in spies:
                    spy.wait(timeout=SECONDS + 60)
                load.wait(timeout=60)
                for pid in children.split():
                    raw += Path(f"{folder}/{pid}.txt").read_text()
            finally:
                server.terminate()
                server.wait(timeout=30)
        database.close()
    if os.environ.get("BENCH_PROFILE_RAW"):  # py-spy's collapsed stacks, for a flame graph
        Path(os.environ["BENCH_PROFILE_RAW"]).write_text(raw)
    print(f"{name}, {scenario}, keep-alive, 2 workers, {SECONDS} s")
    print(summarize(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
