"""Baseline 1: bare Flask + SQLAlchemy Core on gunicorn sync workers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import create_engine, text

from bench.baselines.common import (
    COLUMNS,
    CONNECT_ARGS,
    DATABASE_URL,
    HASHER,
    dumps,
    invalid,
    user_json,
)

app = Flask(__name__)
engine = create_engine(DATABASE_URL, connect_args=CONNECT_ARGS)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers, mimetype="application/json")


@app.get("/api/users")
def list_users() -> Response:
    page = int(request.args.get("page", 1))
    limit = int(request.args.get("limit", 20))
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                f"SELECT {COLUMNS} FROM users ORDER BY created_at DESC, id DESC LIMIT :l OFFSET :o"
            ),
            {"l": limit, "o": (page - 1) * limit},
        ).all()
        total = connection.execute(text("SELECT COUNT(*) FROM users")).scalar_one()
    pagination = {"page": page, "limit": limit, "total": total, "totalPages": -(-total // limit)}
    return respond({"data": [user_json(row) for row in rows], "pagination": pagination})


@app.get("/api/users/<user_id>")
def get_user(user_id: str) -> Response:
    with engine.connect() as connection:
        row = connection.execute(
            text(f"SELECT {COLUMNS} FROM users WHERE id = :id"), {"id": uuid.UUID(user_id).hex}
        ).first()
    if row is None:
        return respond({"error": {"code": "NOT_FOUND", "message": "no such user"}}, 404)
    return respond({"data": user_json(row)})


@app.post("/api/users")
def create_user() -> Response:
    body = request.get_json(silent=True)
    reason = invalid(body)
    if reason or body is None:
        return respond({"error": {"code": "VALIDATION_ERROR", "message": reason}}, 400)
    now = datetime.now(UTC)
    row = (uuid.uuid4(), body["name"].strip(" "), body["email"].lower(), "user", now, now)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, email, role, password_hash, created_at, updated_at)"
                " VALUES (:id, :name, :email, :role, :hash, :created, :updated)"
            ),
            {
                "id": row[0].hex,
                "name": row[1],
                "email": row[2],
                "role": row[3],
                "hash": HASHER.hash(body["password"]),
                "created": now.replace(tzinfo=None),
                "updated": now.replace(tzinfo=None),
            },
        )
    return respond({"data": user_json(row)}, 201, {"Location": f"/api/users/{row[0]}"})
