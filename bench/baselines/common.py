"""What both baselines share: the database, the JSON shape of a user, compact encoding.

They serve the same bodies as the service for the benchmark's requests, and skip what the
service adds - contract validation, authentication, authorization, rate limits, CORS,
request ids - which is the cost being measured.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher

from models.timestamps import to_iso

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///data/bench.db")
# SQLite connections are shared across threads by the servers; PostgreSQL needs nothing.
CONNECT_ARGS: dict[str, Any] = (
    {"check_same_thread": False} if DATABASE_URL.startswith("sqlite") else {}
)
# The same cheap Argon2 cost as the service under load (bench/run.py) and the seed data.
HASHER = PasswordHasher(time_cost=1, memory_cost=1024)
COLUMNS = "id, name, email, role, created_at, updated_at"


def iso(value: Any) -> str:
    """SQLite hands raw SQL its timestamps as text; format them as the service does."""
    return to_iso(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def uuid_text(value: Any) -> str:
    text = str(value)
    if len(text) == 32:  # SQLite stores UUIDs as 32 hex digits
        text = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


def user_json(row: Any) -> dict[str, Any]:
    return {
        "id": uuid_text(row[0]),
        "name": row[1],
        "email": row[2],
        "role": row[3],
        "createdAt": iso(row[4]),
        "updatedAt": iso(row[5]),
    }


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":")) + "\n"  # as the service sends it


def invalid(body: Any) -> str | None:
    """The least a handler must check before inserting: the reason to refuse, or None."""
    if not isinstance(body, dict):
        return "body must be an object"
    for field in ("name", "email", "password"):
        if not isinstance(body.get(field), str):
            return f"{field} is required"
    return None
