"""docs/operations.md lists every setting the service reads, so an operator finds them all."""

from __future__ import annotations

import re
from typing import Any

from service.settings import Settings
from tests.servers import ROOT

OPERATIONS = ROOT / "docs" / "operations.md"


class Recording(dict[str, str]):
    """An empty environment that remembers every variable asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def documented() -> set[str]:
    text = OPERATIONS.read_text(encoding="utf-8")
    table = text[text.index("## Configuration") : text.index("## Metrics")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_every_setting_the_service_reads_is_in_the_configuration_table():
    environ = Recording()
    Settings.from_env(environ)
    assert len(environ.asked) > 20, environ.asked  # the recording sees them
    assert sorted(environ.asked - documented()) == []


def test_the_table_names_no_setting_that_does_not_exist():
    environ = Recording()
    Settings.from_env(environ)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    made = {name for name in documented() if re.search(rf"^{name}\s*[:?]?=", makefile, re.M)}
    assert sorted(documented() - environ.asked - made) == []
