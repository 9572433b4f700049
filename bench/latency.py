"""A TCP proxy adding latency to every round trip, in a process of its own:

    python -m bench.latency --upstream 127.0.0.1:5432 --port 15432 --ms 0.25

Each chunk is forwarded `ms` after it was read, in each direction, so a round trip
through it takes 2 x `ms` more: a database a short network hop away. It is the fault
proxy of tests/faults in latency mode, run until it is sent SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from tests.faults.proxy import FaultProxy, latency


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency")
    parser.add_argument("--upstream", required=True, help="host:port")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ms", type=float, required=True, help="added each way")
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with FaultProxy((host, int(port)), port=args.port) as proxy:
        proxy.set_mode(latency(args.ms))
        print(f"latency proxy on 127.0.0.1:{proxy.port}, +{args.ms} ms each way", flush=True)
        while not stopping.wait(1):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
