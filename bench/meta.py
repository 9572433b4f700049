"""What a results file says about the run that made it: when, on what machine, under what
load, and the command that reproduces it (tools/perf_doc.py renders it)."""

from __future__ import annotations

import os
import platform
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Knobs whose value may hold a password: the file says that they were set, not to what.
SECRET_KNOBS = frozenset({"BENCH_POSTGRES_URL"})


def cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def command(make_target: str, module: str) -> str:
    """The command line that ran this, with every BENCH_* knob that was set."""
    knobs = []
    for name, value in sorted(os.environ.items()):
        if name.startswith("BENCH_"):
            shown = "…" if name in SECRET_KNOBS else shlex.quote(value)
            knobs.append(f"{name}={shown}")
    entry = f"make {make_target}" if "MAKELEVEL" in os.environ else f"python -m {module}"
    return " ".join([*knobs, entry])


def run_metadata(make_target: str, module: str) -> dict[str, Any]:
    """Taken at the start of a run: the load then is the machine's other work."""
    one, five, fifteen = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "measured",
        "command": command(make_target, module),
        "machine": {
            "arch": platform.machine(),
            "cores": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
        },
        "load_at_start": {"1m": one, "5m": five, "15m": fifteen},
    }
