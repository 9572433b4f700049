"""gunicorn's worker class for `make serve`: uvicorn (uvloop, httptools) without a
`Server` header, so the server's name and version are not advertised."""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "server_header": False,
    }
