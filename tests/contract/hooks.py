"""Hooks of the Schemathesis CLI run (`make contract`; SCHEMATHESIS_HOOKS names this).

No made-up `cursor`: only a cursor the service handed out is one (opaque and signed), so
any other is a 400 however well it fits the schema, which the CLI's positive-data check
would report. tests/handlers/test_cursors.py covers real and refused cursors.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def filter_query(_context: Any, query: dict[str, Any] | None) -> bool:
    return not query or "cursor" not in query
