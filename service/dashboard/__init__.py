"""The dashboard: a Backend-for-Frontend that aggregates three sources in one call.

- upstreams.py: the HTTP client of one app (worker): an `httpx.AsyncClient` on an event
  loop of its own, so Flask's threads wait on the network without holding the server's.
- contracts.py: the upstream contracts (openapi/upstreams/*.yaml) every answer is
  validated against.
- sources.py: where each part comes from (this service's model layer, or HTTP).
- aggregate.py: the parts fetched concurrently, partial answers, the ETag.
"""
