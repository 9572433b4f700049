"""Handler of the `health` tag."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service.errors import ApiError, ErrorCode
from service.runtime import database


def get_health() -> tuple[dict[str, Any], int]:
    try:
        with database().read() as connection:
            connection.exec_driver_sql("SELECT 1")
    except SQLAlchemyError:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "The database does not answer") from None
    return {"data": {"status": "ok", "database": "ok"}}, 200
