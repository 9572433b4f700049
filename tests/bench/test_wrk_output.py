"""`make bench` reads wrk's summary: throughput and latency, and what went wrong.

wrk prints "Non-2xx or 3xx responses: N" and "Socket errors: connect …, read …, write …,
timeout …" only when there were any. A system that answers some requests with 500 (the
FastAPI baseline's `database is locked` during SQLite creates) or drops connections must
not hide behind its req/s: the counts go into the results and the report.

The outputs below were captured from wrk 4.1.0 (Debian's package) against a small server
on 127.0.0.1 that answered 201, some 500s, and closed some connections unanswered.
"""

from __future__ import annotations

import pytest

from bench import run

CLEAN = """\
Running 1s test @ http://127.0.0.1:18779/api/users
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   193.51us  319.27us   5.99ms   97.12%
    Req/Sec    24.30k     7.11k   48.31k    85.71%
  Latency Distribution
     50%  142.00us
     75%  197.00us
     90%  243.00us
     99%    1.63ms
  50741 requests in 1.10s, 2.66MB read
Requests/sec:  46161.54
Transfer/sec:      2.42MB
"""

FAILING = """\
Running 1s test @ http://127.0.0.1:18777/api/users
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   256.76us  204.42us   3.95ms   95.56%
    Req/Sec    15.81k     3.30k   22.94k    81.82%
  Latency Distribution
     50%  229.00us
     75%  283.00us
     90%  361.00us
     99%    1.10ms
  34621 requests in 1.10s, 1.86MB read
  Socket errors: connect 0, read 706, write 0, timeout 0
  Non-2xx or 3xx responses: 3532
Requests/sec:  31471.49
Transfer/sec:      1.69MB
"""

# wrk's own format (src/wrk.c: "Socket errors: connect %d, read %d, write %d, timeout %d").
EVERY_ERROR = FAILING.replace(
    "Socket errors: connect 0, read 706, write 0, timeout 0",
    "Socket errors: connect 3, read 706, write 2, timeout 41",
)


def test_a_clean_run_has_no_failures():
    figures = run.parse_wrk(CLEAN)
    assert figures["rps"] == pytest.approx(46161.54)
    assert figures["p50"] == pytest.approx(0.142)
    assert figures["p99"] == pytest.approx(1.63)
    assert figures["requests"] == 50741
    assert figures["non2xx"] == 0
    assert figures["socket_errors"] == 0


def test_non_2xx_answers_and_socket_errors_are_counted():
    figures = run.parse_wrk(FAILING)
    assert figures["requests"] == 34621
    assert figures["non2xx"] == 3532
    assert figures["socket_errors"] == 706
    assert figures["errors_read"] == 706
    assert figures["errors_connect"] == figures["errors_write"] == 0


def test_every_kind_of_socket_error_is_kept_apart():
    figures = run.parse_wrk(EVERY_ERROR)
    assert (
        figures["errors_connect"],
        figures["errors_read"],
        figures["errors_write"],
        figures["errors_timeout"],
    ) == (3, 706, 2, 41)
    assert figures["socket_errors"] == 3 + 706 + 2 + 41


def rounds(*outputs: str) -> list[run.Results]:
    return [{"keep-alive": {"create": run.parse_wrk(output)}} for output in outputs]


def test_failures_are_summed_over_the_rounds_not_hidden_by_a_median():
    # Two clean rounds and one failing one: the median of the counts would be 0.
    totals = run.failure_totals({"fastapi": rounds(CLEAN, FAILING, CLEAN)})
    counts = totals["keep-alive"]["create"]["fastapi"]
    assert counts["requests"] == 2 * 50741 + 34621
    assert counts["non2xx"] == 3532
    assert counts["unexpected"] == 3532
    assert counts["socket_errors"] == 706


def test_in_the_error_scenario_a_2xx_is_the_failure():
    # Every request there is an invalid body: a 400 is expected, a 2xx is not.
    clean_round = {"keep-alive": {"error": run.parse_wrk(CLEAN)}}
    totals = run.failure_totals({"service": [clean_round]})
    counts = totals["keep-alive"]["error"]["service"]
    assert counts["non2xx"] == 0
    assert counts["unexpected"] == 50741


def test_the_report_names_each_system_with_failures():
    totals = run.failure_totals(
        {"service": rounds(CLEAN, CLEAN), "fastapi": rounds(CLEAN, FAILING)}
    )
    lines = run.render_failures(totals, rounds=2)
    assert "fastapi" in lines and "service" not in lines
    assert "3532 non-2xx of 85362 requests" in lines
    assert "socket errors 706 (read 706)" in lines
    assert "none" in run.render_failures(run.failure_totals({"service": rounds(CLEAN)}), 1)


def test_failures_in_the_warm_ups_are_reported_under_their_own_name():
    totals = run.failure_totals({"fastapi": rounds(FAILING)})
    text = run.render_failures(totals, 1, "failures in the warm-ups")
    assert text.startswith("failures in the warm-ups, summed over 1 round:")
    assert "fastapi" in text


def test_a_run_without_a_summary_is_an_error_not_a_zero():
    with pytest.raises(run.WrkError, match="unable to connect"):
        run.parse_wrk("unable to connect to 127.0.0.1:18778 Connection refused\n")
