"""The fault proxy itself, with real clients: psycopg to PostgreSQL, redis-py to Redis.

Times are asserted only as generous bounds: "fails within 2 s" where a wait would take 10,
"waited at least" where the proxy guarantees the delay.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url

from tests.faults.proxy import PASS, REFUSE, SILENT, FaultProxy, latency
from tests.faults.served import through, upstream_of

pytestmark = pytest.mark.faults

# Far longer than any fault the proxy injects on purpose: a client that waits this long
# is waiting for the proxy, not failing fast.
PATIENT = 10


@pytest.fixture
def pg_proxy(postgres_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_of(postgres_url)) as proxy:
        yield proxy


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_of(redis_url)) as proxy:
        yield proxy


def pg_connect(url: str, proxy: FaultProxy, timeout: int = PATIENT) -> psycopg.Connection:
    """psycopg to the database of the SQLAlchemy `url`, through `proxy`."""
    parts = make_url(url)
    return psycopg.connect(
        host=proxy.host,
        port=proxy.port,
        user=parts.username,
        password=parts.password,
        dbname=parts.database,
        connect_timeout=timeout,
        autocommit=True,
    )


def redis_client(url: str, proxy: FaultProxy, timeout: float = PATIENT) -> redis.Redis:
    """redis-py through `proxy`, without retries: one attempt, one error."""
    return redis.Redis.from_url(
        through(url, proxy),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def select(connection: psycopg.Connection, value: int) -> int:
    row = connection.execute("SELECT %s::int", (value,)).fetchone()
    assert row is not None
    answer: int = row[0]
    return answer


def test_pass_forwards_both_ways(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    with pg_connect(postgres_url, pg_proxy) as connection:
        assert select(connection, 1) == 1
    assert redis_client(redis_url, redis_proxy).ping() is True
    for proxy in (pg_proxy, redis_proxy):
        assert proxy.stats.accepted >= 1
        assert proxy.stats.bytes_up > 0
        assert proxy.stats.bytes_down > 0
        assert proxy.stats.refused == 0


def test_refuse_fails_new_connections_fast(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    pg_proxy.set_mode(REFUSE)
    redis_proxy.set_mode("refuse")
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as refused:
        pg_connect(postgres_url, pg_proxy)
    assert time.monotonic() - started < 2
    assert not isinstance(refused.value, psycopg.errors.ConnectionTimeout)

    started = time.monotonic()
    with pytest.raises(redis.ConnectionError) as failed:
        redis_client(redis_url, redis_proxy).ping()
    assert time.monotonic() - started < 2
    assert not isinstance(failed.value, redis.TimeoutError)
    assert pg_proxy.stats.refused >= 1
    assert redis_proxy.stats.refused >= 1
    assert pg_proxy.stats.bytes_down == redis_proxy.stats.bytes_down == 0


def test_refuse_cuts_open_connections(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    client = redis_client(redis_url, redis_proxy)
    with pg_connect(postgres_url, pg_proxy) as connection:
        assert select(connection, 1) == 1
        assert client.ping() is True
        pg_proxy.set_mode(REFUSE)
        redis_proxy.set_mode(REFUSE)
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            select(connection, 2)
        with pytest.raises(redis.ConnectionError) as failed:
            client.ping()
        assert time.monotonic() - started < 2
        assert not isinstance(failed.value, redis.TimeoutError)
    assert pg_proxy.stats.cut == redis_proxy.stats.cut == 1
    assert pg_proxy.stats.open == redis_proxy.stats.open == 0


def test_silent_accepts_and_never_answers(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    pg_proxy.set_mode(SILENT)
    redis_proxy.set_mode("silent")
    started = time.monotonic()
    with pytest.raises(psycopg.errors.ConnectionTimeout):
        pg_connect(postgres_url, pg_proxy, timeout=1)  # libpq waits 2 s at least
    assert time.monotonic() - started >= 0.9

    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        redis_client(redis_url, redis_proxy, timeout=0.5).ping()
    assert time.monotonic() - started >= 0.45
    for proxy in (pg_proxy, redis_proxy):
        # Accepted and read from (not refused), answered nothing.
        assert proxy.stats.accepted >= 1
        assert proxy.stats.refused == 0
        assert proxy.stats.bytes_forwarded == 0


def test_silent_holds_open_connections_until_pass(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    client = redis_client(redis_url, redis_proxy, timeout=0.5)
    assert client.ping() is True
    with pg_connect(postgres_url, pg_proxy) as connection:
        assert select(connection, 1) == 1
        pg_proxy.set_mode(SILENT)
        redis_proxy.set_mode(SILENT)
        with pytest.raises(redis.TimeoutError):
            client.ping()

        answers: list[int] = []
        waiting = threading.Thread(target=lambda: answers.append(select(connection, 2)))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive(), "a query was answered through a silent proxy"
        pg_proxy.set_mode(PASS)  # what was held is delivered: the query is answered
        waiting.join(PATIENT)
        assert answers == [2]
        assert select(connection, 3) == 3


def test_latency_delays_each_round_trip(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    delay = 0.15
    client = redis_client(redis_url, redis_proxy)
    with pg_connect(postgres_url, pg_proxy) as connection:
        assert select(connection, 1) == 1
        assert client.ping() is True
        for proxy in (pg_proxy, redis_proxy):
            proxy.set_mode(latency(delay * 1000))

        started = time.monotonic()
        assert select(connection, 2) == 2
        # Each way delayed: a round trip takes twice the delay at least.
        assert time.monotonic() - started >= 2 * delay * 0.9

        started = time.monotonic()
        assert client.ping() is True
        assert time.monotonic() - started >= 2 * delay * 0.9

        pg_proxy.set_mode(PASS)
        assert select(connection, 3) == 3


def test_pass_after_a_fault_serves_new_connections(
    postgres_url: str, redis_url: str, pg_proxy: FaultProxy, redis_proxy: FaultProxy
) -> None:
    for fault in (REFUSE, SILENT):
        with pg_proxy.fault(fault), redis_proxy.fault(fault):
            assert pg_proxy.mode == redis_proxy.mode == fault
        assert pg_proxy.mode == redis_proxy.mode == PASS
        with pg_connect(postgres_url, pg_proxy) as connection:
            assert select(connection, 1) == 1
        assert redis_client(redis_url, redis_proxy).ping() is True


def test_stop_returns_while_a_client_hangs(postgres_url: str, pg_proxy: FaultProxy) -> None:
    pg_proxy.set_mode(SILENT)
    errors: list[Exception] = []

    def connect() -> None:
        try:
            pg_connect(postgres_url, pg_proxy, timeout=30).close()
        except psycopg.OperationalError as error:
            errors.append(error)

    client = threading.Thread(target=connect)
    client.start()
    deadline = time.monotonic() + PATIENT
    while pg_proxy.stats.open == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pg_proxy.stats.open == 1

    started = time.monotonic()
    pg_proxy.stop()
    assert time.monotonic() - started < 3
    client.join(PATIENT)  # the client is reset, not left waiting its 30 s
    assert not client.is_alive()
    assert len(errors) == 1
    assert not isinstance(errors[0], psycopg.errors.ConnectionTimeout)
    assert not any(thread.name.startswith("fault-proxy") for thread in threading.enumerate())


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65_536):
            self.request.sendall(data)


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A local echo server: the proxy's own behaviour without PostgreSQL or Redis."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield str(host), int(port)
    server.shutdown()
    server.server_close()
    thread.join()


def test_latency_keeps_order_and_counts_every_byte(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server) as proxy:
        proxy.set_mode(latency(20))
        sent = b"".join(f"{n:05d} {'x' * (n % 97)}\n".encode() for n in range(500))
        started = time.monotonic()
        with socket.create_connection(proxy.address, timeout=PATIENT) as client:
            for start in range(0, len(sent), 1000):
                client.sendall(sent[start : start + 1000])
                time.sleep(0.002)
            client.shutdown(socket.SHUT_WR)  # the end of the stream goes through too
            received = b""
            while chunk := client.recv(65_536):
                received += chunk
        assert received == sent
        assert time.monotonic() - started >= 0.04 * 0.9
        assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(sent)
        assert proxy.stats.accepted == 1


def test_unknown_modes_are_refused(echo_server: tuple[str, int]) -> None:
    with FaultProxy(echo_server) as proxy:
        with pytest.raises(ValueError, match="unknown mode"):
            proxy.set_mode("drop")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="negative"):
            latency(-1)
        assert proxy.mode == PASS
