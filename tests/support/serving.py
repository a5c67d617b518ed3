"""WSGI apps served over real HTTP on loopback, each by a threaded werkzeug
server on a port of its own (port 0: xdist workers never share one)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import make_server

# How often the server loop looks for shutdown(): stopping a server waits up to
# this long, once per test that starts one.
POLL_INTERVAL = 0.01


def listen() -> tuple[socket.socket, str]:
    """A listening socket on a free loopback port, and its http:// URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


@dataclass
class Served:
    server: object
    thread: threading.Thread
    listener: socket.socket

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.listener.close()


def serve(app: Flask, listener: socket.socket, **options) -> Served:
    """Serve ``app`` on ``listener`` in a daemon thread; ``options`` go to
    werkzeug's ``make_server`` (``request_handler=``)."""
    server = make_server("127.0.0.1", listener.getsockname()[1], app, threaded=True,
                         fd=listener.fileno(), **options)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)
    thread.start()
    return Served(server, thread, listener)


@contextmanager
def served(app: Flask, listener: socket.socket, **options) -> Iterator[Served]:
    running = serve(app, listener, **options)
    try:
        yield running
    finally:
        running.stop()
