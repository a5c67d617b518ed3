"""Ports for servers a test starts in another process (``keyholder serve``,
``keyholder demo``, ``keyholder app``, HAProxy) or tells where to listen
(the test SMTP server), which cannot be handed an open socket.

They come from 20000-31999, below Linux's ephemeral range (32768 and up)
where outgoing connections and ``bind(port 0)`` take theirs, and each xdist
worker has a slice of its own: two workers never probe the same port, and
within a worker tests run one at a time. Servers of this process listen on
port 0 instead (:mod:`tests.support.serving`)."""

from __future__ import annotations

import os
import random
import socket

FIRST, LAST = 20_000, 32_000


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    size = (LAST - FIRST) // max(count, 1)
    start = FIRST + int(worker.removeprefix("gw") or 0) % max(count, 1) * size
    return range(start, start + size)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_range(count: int) -> int:
    """The first of ``count`` consecutive free ports of this worker's slice."""
    ports = _slice()
    for _ in range(100):
        first = random.randrange(ports.start, ports.stop - count)
        if all(_free(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} free ports in {ports.start}-{ports.stop - 1}")


def free_port() -> int:
    return free_range(1)
