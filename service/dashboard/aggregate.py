"""The dashboard of one caller: every source asked at once, partial answers, an ETag.

HTTP sources are started first, all together, on the app's `Upstreams`; local ones are
then read in this thread while those are in flight; the answer takes about as long as
the slowest source, not the sum. A source that fails leaves its parts null, named in
`meta.errors`; only the profile is indispensable (502, or 504 when it timed out).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cached_property
from typing import Any

from flask import request

from models.db import Database
from models.viewer import Viewer
from service.access.caller import current_viewer
from service.dashboard.sources import PROFILE, SOURCES, BrokenAnswer, Source
from service.dashboard.upstream_contracts import UpstreamContract
from service.dashboard.upstreams import Answer, Failure, Upstreams
from service.edge.scope import request_id
from service.http.conditional import content_tag, still_fresh
from service.http.errors import ApiError, ErrorCode
from service.observability.tracing import Tracing
from service.runtime import current
from service.settings import Settings

logger = logging.getLogger(__name__)

CACHE_CONTROL = "private, max-age=0"
# A call's future answers within its timeout; waiting longer means its loop is stuck.
WAIT_MARGIN = 1.0

PartError = dict[str, str]


class Dashboard:
    """What one app needs to build dashboards: its settings, its HTTP client and the
    contracts of the sources it calls."""

    def __init__(self, settings: Settings, tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.timeout = settings.dashboard_timeout
        self.upstreams = Upstreams(self.timeout, tracing or Tracing(None))

    @cached_property
    def contracts(self) -> dict[str, UpstreamContract]:
        return {source.name: UpstreamContract.load(source.name) for source in SOURCES}

    def parts(
        self,
        database: Database,
        user_id: uuid.UUID,
        viewer: Viewer,
        forwarded: Mapping[str, str],
    ) -> tuple[dict[str, Any], list[PartError]]:
        """The caller's parts and the errors of those that are missing; `ApiError`
        (502/504) when the profile is."""
        pending: dict[Source, Future[Answer]] = {}
        for source in SOURCES:
            base = source.base_url(self.settings)
            if base:
                url = source.url(base, user_id)
                pending[source] = self.upstreams.get_json(source.name, url, dict(forwarded))
        data: dict[str, Any] = {}
        local = [source for source in SOURCES if source not in pending]
        if local:
            with database.read() as connection:
                for source in local:
                    data.update(
                        source.split(source.read_local(connection, user_id, viewer), user_id)
                    )
        errors: list[PartError] = []
        for source, future in pending.items():
            failure = self._take(source, self._wait(future), user_id, data)
            if failure is None:
                continue
            logger.warning("dashboard source %s failed: %s", source.name, failure.value)
            if source is PROFILE:
                raise profile_unavailable(failure, self.timeout)
            for part in source.parts:
                data[part] = None
                errors.append({"part": part, "code": failure.value})
        return data, errors

    def _wait(self, future: Future[Answer]) -> Answer:
        try:
            return future.result(timeout=self.timeout + WAIT_MARGIN)
        except FutureTimeout:
            future.cancel()
            return Answer(failure=Failure.TIMEOUT)

    def _take(
        self, source: Source, answer: Answer, user_id: uuid.UUID, data: dict[str, Any]
    ) -> Failure | None:
        """Put an upstream's parts into `data` if its answer keeps its contract."""
        if answer.failure is not None:
            return answer.failure
        if not self.contracts[source.name].conforms(source.operation_id, answer.body):
            return Failure.UPSTREAM_ERROR
        try:
            data.update(source.split(answer.body, user_id))
        except BrokenAnswer:
            return Failure.UPSTREAM_ERROR
        return None


def profile_unavailable(failure: Failure, timeout: float) -> ApiError:
    if failure is Failure.TIMEOUT:
        message = f"The profile service did not answer within {timeout * 1000:.0f} ms"
        return ApiError(ErrorCode.UPSTREAM_UNAVAILABLE, message, status=504)
    reason = {
        Failure.UNREACHABLE: "could not be reached",
        Failure.UPSTREAM_ERROR: "answered with an error or outside its contract",
    }[failure]
    return ApiError(ErrorCode.UPSTREAM_UNAVAILABLE, f"The profile service {reason}", status=502)


def envelope(data: dict[str, Any], errors: list[PartError]) -> dict[str, Any]:
    ordered = {name: data[name] for name in ("user", "stats", "unreadCount", "recentNotifications")}
    return {"data": ordered, "meta": {"partial": bool(errors), "errors": errors}}


def answer(user_id: uuid.UUID) -> tuple[dict[str, Any] | None, int, dict[str, str]]:
    """The handler's answer for the caller of this request: 200, or 304 while the
    client's `If-None-Match` still holds. The caller's token and request id go along
    to every upstream."""
    runtime = current()
    forwarded = {
        "Authorization": request.headers.get("Authorization", ""),
        "X-Request-ID": request_id(),
        "Accept": "application/json",
    }
    # The tag's key before the upstreams are waited for: on its first use it is read from
    # the database, within the request's deadline, which the wait would use up.
    key = runtime.secret.keys().etag
    data, errors = runtime.dashboard.parts(runtime.database, user_id, current_viewer(), forwarded)
    body = envelope(data, errors)
    etag = content_tag(body, key)  # over the whole answer, meta included
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if still_fresh(etag):
        return None, 304, headers
    return body, 200, headers
