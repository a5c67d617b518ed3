"""Serving the provider: ``keyholder serve`` under granian, and the access
logs, which never record a query string (where ``id_token_hint`` and other
tokens travel) or a referrer ("No tokens in logs or URLs", docs/security.md).

granian's own access log is off: it runs before the app and sees only the
socket's peer, while ours (:class:`AccessLog`, the outermost WSGI layer)
reads ``REMOTE_ADDR`` after the edge has put there the client a trusted
proxy named ("Client IP only from a trusted proxy"). Each worker process
builds the app itself (:func:`load_app`); :func:`_worker_forked` and
:class:`Server` close gaps granian leaves in stopping them."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from werkzeug.serving import WSGIRequestHandler

from idp.infrastructure.health import DRAIN_FILE
from idp.settings import PREFIX, Settings

# An idle keep-alive connection is closed after this long (hyper's header
# read timeout also runs between requests), so it stops holding one of the
# worker's KEYHOLDER_WORKER_CONNECTIONS; as gunicorn's keepalive did.
KEEPALIVE_SECONDS = 5
# SIGTERM, SIGHUP or a respawn: a worker gets this long to finish the
# requests in flight, then it is killed (gunicorn's graceful_timeout).
GRACEFUL_SECONDS = 20

log = logging.getLogger("keyholder.serve")

STDOUT = 1
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Characters a path keeps as they are in the log; anything else (a space, a
# quote, a control or non-ASCII character, decoded by the server) is
# %-encoded again, so one request is one line that cannot be forged.
PATH_SAFE = "/:@!$&'()*+,;=-._~"


class AccessLog:
    """The outermost WSGI layer of ``keyholder serve``: one line per request on
    standard output, ``ADDR [time] "METHOD /path" STATUS SIZE DURATIONms``.

    Written when the app returns its response (Flask has built the body and
    torn the request down by then; granian only sends it). ``REMOTE_ADDR`` is
    read after the app ran, so it is the client the edge believed. Method and
    path only: no query string, no referrer, no user agent."""

    def __init__(self, app, process_environ, *, json_lines: bool = False) -> None:
        self.app = app
        self.json_lines = json_lines  # KEYHOLDER_LOG_FORMAT=json
        # granian starts every environ from a copy of os.environ, where our
        # settings hold the secret key, the keys' passphrase and the database
        # password: no request, error page or error report may carry them.
        self.settings = tuple(name for name in process_environ if name.startswith(PREFIX))
        self._second = -1
        self._stamp = ""

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        for name in self.settings:
            environ.pop(name, None)
        answer = ["500", "-"]  # what granian sends if the app raises

        def capture(status, headers, exc_info=None):
            answer[0] = status[:3]
            for name, value in headers:
                if name.lower() == "content-length":
                    answer[1] = value
                    break
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, capture)
        finally:
            self._log(environ, answer, started)

    def _log(self, environ, answer, started) -> None:
        now = time.time()
        if int(now) != self._second:  # one strftime a second, not one a request
            self._second = int(now)
            self._stamp = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(now))
        path = environ.get("PATH_INFO", "")
        if not (path.isascii() and path.isprintable()) or " " in path or '"' in path:
            path = quote(path.encode("latin-1"), safe=PATH_SAFE)  # PEP 3333: latin-1
        elapsed = (time.perf_counter() - started) * 1000
        if self.json_lines:
            line = json.dumps({
                "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"), "level": "INFO", "logger": "keyholder.access",
                "event": "request", "client": environ.get("REMOTE_ADDR", "-"),
                "method": environ.get("REQUEST_METHOD", "-"), "path": path,
                "status": answer[0], "size": answer[1], "duration_ms": round(elapsed, 1),
                "request_id": environ.get("HTTP_X_REQUEST_ID")}) + "\n"
        else:
            line = (f'{environ.get("REMOTE_ADDR", "-")} {self._stamp} '
                    f'"{environ.get("REQUEST_METHOD", "-")} {path}" {answer[0]} {answer[1]} '
                    f'{elapsed:.1f}ms\n')
        # One write(2) a line, unbuffered: no lock between the worker's threads,
        # a line under PIPE_BUF never interleaves with another process's, and
        # none is lost when a worker dies; a third of the cost of `logging`.
        # A closed log pipe must not fail the request the line describes.
        with contextlib.suppress(OSError):
            os.write(STDOUT, line.encode())


class ScrubbedRequestHandler(WSGIRequestHandler):
    """The demo servers' access log, with the same rule; each line starts with
    the server's name and port (``[portal:8101]``): the demo's servers share
    one terminal."""

    def log_request(self, code="-", size="-") -> None:
        path = self.path.split("?", 1)[0]
        name = getattr(self.server, "service_name", "provider")
        self.log("info", '[%s:%s] "%s %s" %s %s', name, self.server.port, self.command,
                 path, code, size)


def load_app(target: str, *, json_lines: bool = False):
    """Run in each worker (granian's ``target_loader``): ``module:factory``
    called there, so no database connection crosses a fork, inside the
    access log (JSON lines with ``KEYHOLDER_LOG_FORMAT=json``)."""
    module, _, name = target.partition(":")
    app = getattr(importlib.import_module(module), name)()
    return AccessLog(app, os.environ, json_lines=json_lines)


def _worker_forked(server_pid: int) -> None:
    """In a new worker, first thing: it ends when told to or when the server
    is gone.

    Until granian sets the worker's own handlers (once the app is built), a
    SIGTERM would run the server's handler inherited across fork, on the
    worker's copy of the server, and be lost: the default action ends a
    worker that serves nothing yet. With PR_SET_PDEATHSIG a server killed
    with SIGKILL leaves no orphan worker on its port (gunicorn's workers
    watched their parent too)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != server_pid:
            os._exit(1)  # the server died before the prctl


class Server(Granian):
    """granian's server, stopping cleanly when systemd stops it: its default
    KillMode sends SIGTERM to every process of the service, the workers too.

    Draining: a first SIGTERM (or SIGINT) makes ``/health/ready`` answer 503
    (a file the workers see, :data:`idp.infrastructure.health.DRAIN_FILE`)
    while everything is still served, for ``drain_seconds``; then the
    listener closes and the requests in flight finish. A second signal stops
    at once. (Under systemd use ``KillMode=mixed``, so that the workers are
    not told to stop before the server is.)"""

    drain_seconds = 0.0
    drain_file: str | None = None
    _draining = False

    def signal_handler_interrupt(self, *args, **kwargs):
        if self.drain_seconds > 0 and self.drain_file and not self._draining:
            self._draining = True
            Path(self.drain_file).touch()
            log.info("draining: /health/ready answers 503 for %.1f s, then stopping",
                     self.drain_seconds)
            timer = threading.Timer(self.drain_seconds, self._stop, args, kwargs)
            timer.daemon = True
            timer.start()
            return
        self._stop(*args, **kwargs)

    def _stop(self, *args, **kwargs):
        for worker in self.wrks:  # got the signal as well: their exit is no crash
            worker.interrupt_by_parent = True
        super().signal_handler_interrupt(*args, **kwargs)

    def shutdown(self, exit_code=0):
        if self.interrupt_signal:
            # A worker whose own SIGTERM came before the handler above ran
            # stopped as asked all the same: not a reason to exit 1, also when
            # its watcher thread reports it while the others are stopped.
            self.interrupt_children = _StoppedAsAsked()
        super().shutdown(exit_code)


class _StoppedAsAsked(list):
    """granian's list of crashed workers, once the server was told to stop."""

    def append(self, _worker) -> None:
        pass


class CannotListen(OSError):
    """The address does not resolve, or another process listens there."""


def listen_address(host: str, port: int) -> str:
    """``host`` as the IP address granian needs (it takes no names), after
    checking that nothing listens there yet: granian binds with SO_REUSEPORT,
    so a second server on the port would otherwise share it silently."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT
            probe.bind(address[:2])
    except OSError as error:
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return address[0]


def granian_server(target: str, settings: Settings, host: str | None, port: int | None,
                   workers: int | None, threads: int | None) -> Server:
    """granian running ``target`` (``module:factory``) for ``keyholder serve``."""
    port = port or settings.PORT
    threads = threads or settings.THREADS
    return Server(
        target,
        address=listen_address(host or settings.HOST, port), port=port,
        interface=Interfaces.WSGI,
        workers=workers or settings.WORKERS,
        # Python threads per worker: the GIL runs one at a time, the others
        # wait for the database or the socket. A few are enough (docs/settings.md).
        blocking_threads=threads,
        # Connections a worker holds at once (each at most one request in
        # flight on HTTP/1); more wait in the kernel's listen queue.
        backpressure=settings.WORKER_CONNECTIONS,
        http=HTTPModes.http1,  # behind a proxy; no h2c
        http1_settings=HTTP1Settings(header_read_timeout=KEEPALIVE_SECONDS * 1000,
                                     keep_alive=True),
        websockets=False,
        log_level=LogLevels(settings.LOG_LEVEL.lower()),
        log_access=False,  # AccessLog instead
        respawn_failed_workers=True,
        workers_kill_timeout=GRACEFUL_SECONDS,
        workers_max_rss=settings.WORKER_MAX_RSS or None,
    )


def _migrates_queued_connections() -> bool:
    """Each worker listens on a socket of its own (SO_REUSEPORT); when one
    closes, Linux hands its queue to another only with this setting."""
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False  # before Linux 5.14


def serve(target: str, settings: Settings, host: str | None, port: int | None,
          workers: int | None, threads: int | None) -> None:
    """Serve until SIGTERM or SIGINT (graceful stop); SIGHUP replaces the
    workers one by one; a worker that dies is replaced."""
    server = granian_server(target, settings, host, port, workers, threads)
    drain_folder = tempfile.mkdtemp(prefix="keyholder-serve-")
    server.drain_file = os.environ[DRAIN_FILE] = os.path.join(drain_folder, "draining")
    server.drain_seconds = settings.DRAIN_SECONDS
    if sys.platform == "linux" and not _migrates_queued_connections():
        log.warning("net.ipv4.tcp_migrate_req is not 1: the connections queued at a worker "
                    "that stops (SIGHUP, memory limit, crash) are reset instead of going to "
                    "another worker. Set it to 1 (Linux 5.14 or later).")
    # This process forks only its workers (granian's multiprocessing, fork method).
    os.register_at_fork(after_in_child=functools.partial(_worker_forked, os.getpid()))
    try:
        server.serve(target_loader=functools.partial(
            load_app, json_lines=settings.LOG_FORMAT == "json"))
    finally:
        shutil.rmtree(drain_folder, ignore_errors=True)
