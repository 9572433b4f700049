"""The app's secret, and the keys made from it for each thing the service signs.

One secret: list cursors (service/http/pagination.py) and entity tags (service/http/conditional.py)
each get a key of their own derived from it (HMAC-SHA256 of the purpose's name), so that
nothing made for one purpose is accepted for another, and a tag reveals nothing about the
cursors' key.

Where the secret comes from:

- `APP_SECRET`, when set (at least 32 characters, service/settings.py): give every worker
  and instance the same.
- Otherwise the random secret migration 0007 keeps in the database (models/app_secret.py):
  read by the first request that needs it, then held by the app's runtime for every later
  one. Every worker and instance on the database reads the same, and no one can derive it
  from anything they know, as they could the key derived from `DATABASE_URL` before.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from models import app_secret
from models.db import Database


@dataclass(frozen=True)
class AppKeys:
    """The keys made from one secret, one per purpose."""

    cursor: bytes
    etag: bytes

    @classmethod
    def derive(cls, secret: bytes) -> AppKeys:
        def key(purpose: bytes) -> bytes:
            return hmac.new(secret, purpose, hashlib.sha256).digest()

        return cls(cursor=key(b"cursor"), etag=key(b"etag"))


class AppSecret:
    """One app's keys: from `configured` (APP_SECRET), else from the database once."""

    def __init__(self, database: Database, configured: bytes | None) -> None:
        self._database = database
        self._keys = AppKeys.derive(configured) if configured else None

    def keys(self) -> AppKeys:
        """The keys; the first call without `APP_SECRET` reads the kept secret (a unit of
        work like any other: the database down is a 503). Two requests that race to read
        it read the same value, so no lock holds anyone up."""
        keys = self._keys
        if keys is None:
            with self._database.read() as connection:
                keys = AppKeys.derive(app_secret.stored(connection))
            self._keys = keys
        return keys
