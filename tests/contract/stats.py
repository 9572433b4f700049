"""Counts of the Schemathesis run, printed at the end of the test session."""

from __future__ import annotations

from collections import Counter

cases: Counter[str] = Counter()

# Other figures worth a line at the end of the run.
notes: list[str] = []
