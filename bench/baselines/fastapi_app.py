"""Baseline 2: FastAPI + SQLModel on gunicorn with uvicorn workers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlmodel import Session, col, create_engine, func, select

from bench.baselines.common import CONNECT_ARGS, DATABASE_URL, HASHER, dumps, invalid
from models.user import User

app = FastAPI()
engine = create_engine(DATABASE_URL, connect_args=CONNECT_ARGS)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers, media_type="application/json")


@app.get("/api/users")
def list_users(page: int = 1, limit: int = 20) -> Response:
    with Session(engine) as session:
        rows = session.exec(
            select(User)
            .order_by(col(User.created_at).desc(), col(User.id).desc())
            .offset((page - 1) * limit)
            .limit(limit)
        ).all()
        total = session.exec(select(func.count()).select_from(User)).one()
        data = [row.document() for row in rows]
    pagination = {"page": page, "limit": limit, "total": total, "totalPages": -(-total // limit)}
    return respond({"data": data, "pagination": pagination})


@app.get("/api/users/{user_id}")
def get_user(user_id: uuid.UUID) -> Response:
    with Session(engine) as session:
        user = session.get(User, user_id)
        if user is None:
            return respond({"error": {"code": "NOT_FOUND", "message": "no such user"}}, 404)
        return respond({"data": user.document()})


@app.post("/api/users")
async def create_user(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    reason = invalid(body)
    if reason:
        return respond({"error": {"code": "VALIDATION_ERROR", "message": reason}}, 400)
    now = datetime.now(UTC)
    user = User(
        name=body["name"].strip(" "),
        email=body["email"].lower(),
        role="user",
        password_hash=HASHER.hash(body["password"]),
        created_at=now,
        updated_at=now,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(user)
        session.commit()
    return respond({"data": user.document()}, 201, {"Location": f"/api/users/{user.id}"})
