"""`make perf-doc`: docs/performance.md, rendered from the committed results files.

    python -m tools.perf_doc [--check] [--results DIR] [--output FILE]

Every figure of the page comes from a file in bench/results/: `make bench` writes
`latest.json` (bench/run.py) and `make bench SCALE=1` writes `scale.json`
(bench/scale.py); a run is published by copying that file to a dated name
(`bench/results/2026-12-06-sqlite.json`) and running `make perf-doc`. The two working
files themselves are not rendered (nor committed). Runs are shown newest first, each with
its date, machine (cores, CPU model), load, command and settings, then per database the
figures: req/s with the service's ratio to each other system, p50/p99, failures, memory.

`--check` renders without writing and exits 1 when the page differs (an edit pasted into
the page instead of a results file); tests/tools/test_perf_doc.py runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OUTPUT = ROOT / "docs" / "performance.md"
# What the benchmarks write on every run: published under another name, never rendered.
WORKING_FILES = frozenset({"latest.json", "scale.json"})
# The other systems of `make bench`, in the order of its table (bench/run.py COMPARED).
COMPARED = ("connexion", "fastapi-full", "flask", "fastapi")
SOCKET_ERRORS = ("connect", "read", "write", "timeout")
MISSING = "-"

Document = dict[str, Any]


def results_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.glob("*.json")
        if path.name not in WORKING_FILES and not path.name.startswith(".")
    )


def load(path: Path) -> Document:
    """A results file; bench/scale.py's files before they carried metadata were a bare
    list of rows."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return {"kind": "scale", "rows": data}
    if not isinstance(data, dict):
        raise SystemExit(f"perf-doc: {path} holds neither a results object nor a list")
    if "kind" not in data:
        data["kind"] = "scale" if "rows" in data else "bench"
    return data


def newest_first(documents: Iterable[tuple[str, Document]]) -> list[tuple[str, Document]]:
    """By date, newest first; runs of one day in the order of their file names."""
    ordered = sorted(documents, key=lambda item: item[0])
    ordered.sort(key=lambda item: str(_meta(item[1]).get("date") or ""), reverse=True)
    return ordered


def _meta(document: Document) -> dict[str, Any]:
    meta = document.get("meta")
    return meta if isinstance(meta, dict) else {}


# Numbers ---------------------------------------------------------------------------------


def _number(value: Any, digits: int = 0) -> str:
    if not isinstance(value, int | float):
        return MISSING
    return f"{value:,.{digits}f}"


def _ms(value: Any) -> str:
    """Latencies: whole milliseconds from 10 ms up, one decimal below."""
    if not isinstance(value, int | float):
        return MISSING
    return _number(value, 0 if value >= 10 else 1)


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return None
    return numerator / denominator if denominator else None


def _times(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}x"


def _span(values: Sequence[float | None]) -> str:
    known = [value for value in values if value is not None]
    if not known:
        return MISSING
    low, high = min(known), max(known)
    return _times(low) if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}x"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# One run: what, where, when -------------------------------------------------------------


def _anchor(title: str) -> str:
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def _title(name: str, document: Document) -> str:
    date = str(_meta(document).get("date") or "undated")[:10]
    what = "lists at scale" if document["kind"] == "scale" else "throughput and latency"
    return f"{date}, {what} ({name})"


def _machine(meta: dict[str, Any]) -> str:
    machine = meta.get("machine")
    if isinstance(machine, str):
        return machine
    if not isinstance(machine, dict):
        return "not recorded"
    parts = [
        str(machine["arch"]) if machine.get("arch") else "",
        f"{machine['cores']} cores" if machine.get("cores") else "",
        f"CPU {machine['cpu']}" if machine.get("cpu") else "CPU model not recorded",
        f"Python {machine['python']}" if machine.get("python") else "",
    ]
    return ", ".join(part for part in parts if part)


def _load(meta: dict[str, Any], document: Document) -> str:
    """The machine's 1-minute load average: before the run (everything else it was doing)
    and during it, per database where the file has it."""
    parts = []
    start = meta.get("load_at_start")
    if isinstance(start, dict) and isinstance(start.get("1m"), int | float):
        parts.append(f"{start['1m']:.1f} at the start (the machine's other work)")
    during = []
    for name, database in (document.get("databases") or {}).items():
        load = database.get("load_average") if isinstance(database, dict) else None
        if isinstance(load, dict) and "min" in load and "max" in load:
            during.append(f"{name} {load['min']:.1f} to {load['max']:.1f}")
    overall = meta.get("load_average")
    if isinstance(overall, dict) and "min" in overall and "max" in overall:
        during.append(f"{overall['min']:.1f} to {overall['max']:.1f}")
    if during:
        parts.append("during the run " + ", ".join(during))
    return "; ".join(parts) if parts else "not recorded"


def _settings(document: Document) -> str | None:
    settings = document.get("settings")
    if not isinstance(settings, dict):
        return None
    parts = []
    if "connections" in settings:
        parts.append(f"wrk -t2 -c{settings['connections']} --latency")
    if "duration_s" in settings:
        warmup = settings.get("warmup_s")
        after = f" after a {warmup} s warm-up" if warmup is not None else ""
        parts.append(f"{settings['duration_s']} s per scenario{after}")
    if "workers" in settings:
        parts.append(f"{settings['workers']} workers per system")
    if "repeat" in settings:
        parts.append(f"median of {settings['repeat']} alternating rounds")
    return ", ".join(parts) or None


def _header(name: str, document: Document, folder: str) -> list[str]:
    meta = _meta(document)
    lines = [
        f"## {_title(name, document)}",
        "",
        f"- results: [`{folder}/{name}`](../{folder}/{name})",
        f"- source: {meta.get('source') or 'not recorded'}",
        f"- machine: {_machine(meta)}",
        f"- load (1-minute load average): {_load(meta, document)}",
    ]
    command = meta.get("command")
    lines.append(f"- command: `{command}`" if command else "- command: not recorded")
    settings = _settings(document)
    if settings:
        lines.append(f"- settings: {settings}")
    variants = (document.get("settings") or {}).get("variants") or {}
    for variant, changes in variants.items():
        shown = ", ".join(f"`{key}={value}`" for key, value in changes.items())
        lines.append(f"- `{variant}`: the service with {shown or 'its defaults'}")
    if meta.get("note"):
        lines.append(f"- note: {meta['note']}")
    return [*lines, ""]


# make bench --------------------------------------------------------------------------------


def _systems(medians: dict[str, Any]) -> list[str]:
    """Every system of a database's table, in the order of the first cell that has it."""
    found: list[str] = []
    for scenarios in medians.values():
        for systems in scenarios.values():
            found += [name for name in systems if name not in found]
    return found


def _cells(medians: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (mode, scenario, systems)
        for mode, scenarios in medians.items()
        for scenario, systems in scenarios.items()
    ]


def _figure(systems: dict[str, Any], name: str, key: str) -> Any:
    figures = systems.get(name)
    return figures.get(key) if isinstance(figures, dict) else None


def _rps_rows(medians: dict[str, Any], names: list[str], *, over_service: bool) -> list[list[str]]:
    """req/s per cell for the service and `names`, each with its ratio (the service over
    it, or it over the service), and a last row of each ratio's range."""
    rows = []
    ratios: dict[str, list[float | None]] = {name: [] for name in names}
    for mode, scenario, systems in _cells(medians):
        service = _figure(systems, "service", "rps")
        row = [mode, scenario, _number(service)]
        for name in names:
            rps = _figure(systems, name, "rps")
            ratio = _ratio(service, rps) if over_service else _ratio(rps, service)
            if rps is not None:
                ratios[name].append(ratio)
            row.append(MISSING if rps is None else f"{_number(rps)} ({_times(ratio)})")
        rows.append(row)
    rows.append(["", "range", "", *(_span(ratios[name]) for name in names)])
    return rows


def _throughput(medians: dict[str, Any], others: list[str]) -> list[str]:
    """req/s, and the service's req/s over each other system's, with each ratio's range."""
    rows = _rps_rows(medians, others, over_service=True)
    return [
        "req/s (median), and in brackets the service's req/s over that system's:",
        "",
        *_table(["mode", "scenario", "service", *others], rows),
        "",
    ]


def _variants(medians: dict[str, Any], variants: list[str]) -> list[str]:
    rows = _rps_rows(medians, variants, over_service=False)
    return [
        "The service under other settings: req/s, and in brackets its ratio to the "
        "service's defaults:",
        "",
        *_table(["mode", "scenario", "service", *variants], rows),
        "",
    ]


def _latency(medians: dict[str, Any], systems: list[str]) -> list[str]:
    rows = [
        [mode, scenario]
        + [
            f"{_ms(_figure(cell, name, 'p50'))} / {_ms(_figure(cell, name, 'p99'))}"
            if name in cell
            else MISSING
            for name in systems
        ]
        for mode, scenario, cell in _cells(medians)
    ]
    return [
        "Latency, p50 / p99 in ms (medians):",
        "",
        *_table(["mode", "scenario", *systems], rows),
        "",
    ]


def _failures(database: dict[str, Any], rounds: Any, *, warmups: bool = False) -> list[str]:
    """The answers of the wrong class and the socket errors, summed over the rounds: of
    the measured seconds, or of the warm-ups before them (not in the figures)."""
    failures = database.get("warmup_failures" if warmups else "failures")
    what = "Failures in the warm-ups (not in the figures above)" if warmups else "Failures"
    if not isinstance(failures, dict):
        if warmups:
            return []
        return ["Failures (non-2xx answers, socket errors): not recorded in this file.", ""]
    rows = []
    for mode, scenario, systems in _cells(failures):
        for system, counts in systems.items():
            expected = "non-2xx" if scenario == "error" else "2xx"
            errors = counts.get("socket_errors", 0)
            kinds = ", ".join(
                f"{kind} {_number(counts.get(f'errors_{kind}'))}"
                for kind in SOCKET_ERRORS
                if counts.get(f"errors_{kind}")
            )
            if not counts.get("unexpected") and not errors:
                continue
            rows.append(
                [
                    system,
                    mode,
                    scenario,
                    expected,
                    _number(counts.get("requests")),
                    _number(counts.get("non2xx")),
                    _number(counts.get("unexpected")),
                    f"{_number(errors)} ({kinds})" if errors else "0",
                ]
            )
    summed = f"summed over {rounds} rounds" if rounds else "summed over the rounds"
    if not rows:
        return [
            f"{what} ({summed}): none. Every answer was of the class its scenario expects "
            "(2xx; a 400 in `error`) and no socket error occurred.",
            "",
        ]
    head = [
        "system",
        "mode",
        "scenario",
        "expected",
        "requests",
        "non-2xx",
        "of the wrong class",
        "socket errors",
    ]
    return [
        f"{what} ({summed}): answers of another class than the scenario expects, and "
        "socket errors (connect, read, write, timeout), as wrk counted them:",
        "",
        *_table(head, rows),
        "",
    ]


def _bench(document: Document) -> list[str]:
    lines: list[str] = []
    rounds = (document.get("settings") or {}).get("repeat")
    for name, database in (document.get("databases") or {}).items():
        medians = database.get("medians") or {}
        systems = _systems(medians)
        others = [s for s in COMPARED if s in systems]
        others += [s for s in systems if s != "service" and s not in others and ":" not in s]
        variants = [s for s in systems if s.startswith("service:")]
        lines += [f"### {name}", ""]
        if others:
            lines += _throughput(medians, others)
        if variants:
            lines += _variants(medians, variants)
        if not others and not variants:
            lines += _throughput(medians, [])
        lines += _latency(medians, systems)
        lines += _failures(database, rounds)
        lines += _failures(database, rounds, warmups=True)
        peaks = database.get("peak_rss_mib")
        if isinstance(peaks, dict) and peaks:
            memory = ", ".join(f"{system} {_number(mib)}" for system, mib in peaks.items())
            lines += [f"Peak resident memory, MiB (master and workers): {memory}.", ""]
        same = database.get("identical_bodies")
        if isinstance(same, dict) and same:
            answer = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items())
            lines += [f"Identical bodies for the same query, every system: {answer}.", ""]
    return lines


# make bench SCALE=1 --------------------------------------------------------------------------

SCALE_MODES = ("page+exact", "page", "cursor")


def _scale(document: Document) -> list[str]:
    rows = [row for row in document.get("rows") or [] if isinstance(row, dict)]
    limit = document.get("limit", 20)
    lines: list[str] = []
    databases = list(dict.fromkeys(str(row.get("database", "sqlite")) for row in rows))
    for database in databases:
        mine = [row for row in rows if str(row.get("database", "sqlite")) == database]
        # bench/scale.py's rows hold each mode's figures under its name (`page` included).
        modes = [m for m in SCALE_MODES if any(isinstance(row.get(m), dict) for row in mine)]
        table = [
            [
                _number(row.get("rows")),
                str(row.get("sortBy", MISSING)),
                str(row.get("search") or MISSING),
                str(row.get("position", MISSING)),
                *(
                    f"{_number(row[mode].get('p50'), 1)} / {_number(row[mode].get('p99'), 1)}"
                    if isinstance(row.get(mode), dict)
                    else MISSING
                    for mode in modes
                ),
            ]
            for row in mine
        ]
        lines += [
            f"### {database}",
            "",
            f"`GET /api/posts?limit={limit}&order=desc`, one request at a time, p50 / p99 in ms:",
            "",
            *_table(["posts", "sortBy", "search", "page", *modes], table),
            "",
        ]
        seeding = (document.get("seeding_s") or {}).get(database)
        if isinstance(seeding, dict) and seeding:
            seeded = ", ".join(
                f"{_number(int(size))} posts in {_number(seconds, 1)} s"
                for size, seconds in seeding.items()
            )
            lines += [f"Seeded (bench/bulk.py): {seeded}.", ""]
        lines += _cursor_targets(mine)
    return lines


def _cursor_targets(rows: list[dict[str, Any]]) -> list[str]:
    """By cursor, the last page of the largest list against the first page of the
    smallest (p50), per sort key without search: the pages should cost the same."""
    cursor = [row for row in rows if isinstance(row.get("cursor"), dict) and not row.get("search")]
    sizes = sorted({row["rows"] for row in cursor if isinstance(row.get("rows"), int)})
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    table = []
    for sort_by in dict.fromkeys(str(row.get("sortBy")) for row in cursor):

        def p50(size: int, position: str, key: str = sort_by) -> Any:
            for row in cursor:
                if (row["rows"], row.get("sortBy"), row.get("position")) == (size, key, position):
                    return row["cursor"].get("p50")
            return None

        first, last = p50(small, "first"), p50(large, "last")
        table.append([sort_by, _number(first, 1), _number(last, 1), _times(_ratio(last, first))])
    head = [
        "sortBy",
        f"first page at {_number(small)}",
        f"last page at {_number(large)}",
        "ratio",
    ]
    return [
        f"By cursor, p50 in ms of the last page at {_number(large)} posts against the first "
        f"page at {_number(small)}:",
        "",
        *_table(head, table),
        "",
    ]


# The page ------------------------------------------------------------------------------------


def render(documents: Sequence[tuple[str, Document]], folder: str = "bench/results") -> str:
    runs = newest_first(documents)
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `make perf-doc` (tools/perf_doc.py) from bench/results/*.json."
        " Do not edit: change a results file or the generator. -->",
        "",
        "Every figure on this page comes from a results file in "
        f"[`{folder}/`](../{folder}/), newest run first. What the benchmarks measure, how to "
        "read them and what was tried is in [performance-notes.md](performance-notes.md). "
        f"`{MISSING}` marks a figure the file does not hold (runs transcribed from the "
        "printed tables of earlier runs kept fewer).",
        "",
    ]
    if not runs:
        return "\n".join([*lines, "No results file yet: see performance-notes.md.", ""])
    lines += [f"- [{_title(n, d)}](#{_anchor(_title(n, d))})" for n, d in runs]
    lines.append("")
    for name, document in runs:
        lines += _header(name, document, folder)
        lines += _scale(document) if document["kind"] == "scale" else _bench(document)
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def render_folder(folder: Path) -> str:
    shown = folder.relative_to(ROOT).as_posix() if folder.is_relative_to(ROOT) else str(folder)
    return render([(path.name, load(path)) for path in results_files(folder)], shown)


def summary(folder: Path) -> Iterable[str]:
    for path in results_files(folder):
        document = load(path)
        meta = _meta(document)
        yield f"{path.name}: {meta.get('date', 'undated')}, load {_load(meta, document)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page differs")
    args = parser.parse_args(argv)
    page = render_folder(args.results.resolve())
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current == page:
            return 0
        print(
            f"perf-doc: {args.output} is not what the results in {args.results} render; "
            "change a results file (or tools/perf_doc.py), then run `make perf-doc`",
            file=sys.stderr,
        )
        return 1
    for line in summary(args.results):
        print(f"perf-doc: {line}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    print(f"perf-doc: wrote {args.output} ({len(page.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
