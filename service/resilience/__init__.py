"""Bounded waits on the service's dependencies: deadlines, circuit breakers, readiness.

- `breaker`: a circuit breaker per dependency (pybreaker): refuses at once while open,
  and probes the dependency beside the requests, less often the longer it is down.
- `deadline`: each request's budget for the database, and the watchdog that cuts a
  connection held past it, since a silent network wakes no blocked read by itself.
- `database`: the guard the app's `Database` wraps every unit of work in.
- `outage_log`: one line per failed request, a traceback per cause at most once a minute.
- `placement`: where a request runs, the event loop or the app's threads.
- `readiness`: what `GET /api/ready` answers, and what it logs for operators.
"""
