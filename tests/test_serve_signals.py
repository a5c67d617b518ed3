"""``keyholder serve``'s processes and signals: a worker that dies is
replaced, SIGTERM stops gracefully (sent to the server, or to every process
as systemd does, even while the workers start), SIGHUP replaces the workers
while they serve, and a server killed outright leaves no worker
behind. The database cannot change any of this: one database (SQLite)."""

import os
import signal
import socket
import threading
import time

import pytest
import requests

from tests.support.databases import ONE_DATABASE
from tests.support.serve_command import (
    KEYHOLDER,
    copy_instance,
    eventually,
    kill,
    launch,
    listeners,
    output,
    serve,
    state,
    stop,
    workers,
)

pytestmark = ONE_DATABASE


@pytest.fixture
def instance(tmp_path, database_url, keys_template):
    return copy_instance(tmp_path, database_url, keys_template)


def test_a_killed_worker_is_replaced(instance):
    env, port = instance
    server = serve(env, port, "--workers", "2")
    try:
        before = workers(server.pid)
        assert len(before) == 2
        # The server answers once one worker listens: wait for the other,
        # which is to answer alone while the killed one is replaced.
        eventually(lambda: listeners(port) == 2)
        killed = min(before)
        os.kill(killed, signal.SIGKILL)
        # Once it is gone (its listening socket closed: what was queued there is
        # reset), the other worker answers while its replacement starts.
        eventually(lambda: killed not in workers(server.pid))
        for _ in range(10):
            assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
        eventually(lambda: len(workers(server.pid)) == 2)
        for _ in range(10):
            assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
    finally:
        log = stop(server)
    assert "Respawning worker" in log


def test_sigterm_lets_the_request_in_flight_finish(instance):
    """A POST whose body is still arriving when SIGTERM comes gets its answer,
    while new connections are refused; then the server exits 0."""
    env, port = instance
    server = serve(env, port, "--workers", "1")
    body = b"state=bye"
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        slow.sendall(b"POST /logout HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body[:4]))
        time.sleep(0.3)  # the worker is reading the body
        server.send_signal(signal.SIGTERM)
        stopping = time.monotonic()

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        eventually(refused, seconds=10)
        time.sleep(max(0.0, stopping + 2 - time.monotonic()))  # a slow client
        assert server.poll() is None  # still waiting for our request
        slow.sendall(body[4:])
        answer = slow.makefile("rb").readline()
    finally:
        slow.close()
        server.wait(timeout=30)
    assert answer.startswith(b"HTTP/1.1 200 "), output(server)
    assert server.returncode == 0, output(server)
    assert '"POST /logout" 200 ' in output(server)


def test_sighup_replaces_the_workers_while_they_serve(instance):
    """One worker, so that every request of the reload is served by the old
    one or the new one, never refused. What granian cannot save is the one
    connection being opened to the old worker as it stops: queued at its
    socket (each worker listens on its own, SO_REUSEPORT; Linux hands the
    queue on only with net.ipv4.tcp_migrate_req=1), or accepted with its
    request not read yet (closed unanswered). One client, one connection at
    a time: at most one such failure."""
    env, port = instance
    server = serve(env, port, "--workers", "1")
    answers: list[int | str] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():  # a new connection each time
            try:
                answers.append(requests.get(f"http://127.0.0.1:{port}/health", timeout=5,
                                            headers={"Connection": "close"}).status_code)
            except requests.RequestException as error:
                answers.append(repr(error))

    thread = threading.Thread(target=client)
    try:
        old = workers(server.pid)
        thread.start()
        eventually(lambda: len(answers) > 5)
        server.send_signal(signal.SIGHUP)
        eventually(lambda: len(workers(server.pid)) == 1 and not workers(server.pid) & old)
        served = len(answers)
        eventually(lambda: len(answers) > served + 5)
    finally:
        done.set()
        thread.join(timeout=10)
        log = stop(server)
    failures = [answer for answer in answers if answer != 200]
    assert answers.count(200) > 10
    assert len(failures) <= 1, failures
    assert all("ConnectionResetError" in failure or "RemoteDisconnected" in failure
               for failure in failures), failures
    assert "HUP signal received" in log


def test_sigterm_to_every_process_is_a_clean_stop(instance):
    """systemd's default KillMode sends SIGTERM to the workers as well as to the
    server; here the workers finish first, as they may on a loaded machine
    (the server is held stopped meanwhile)."""
    env, port = instance
    server = serve(env, port, "--workers", "2")
    # Both workers serving (their own handlers set): a worker still being
    # forked is test_a_stop_while_the_workers_start_is_prompt's case.
    eventually(lambda: output(server).count("Started worker-") == 2)
    children = workers(server.pid)
    assert len(children) == 2, children
    server.send_signal(signal.SIGSTOP)
    try:
        os.killpg(server.pid, signal.SIGTERM)
        eventually(lambda: all(state(pid) == "Z" for pid in children))
    finally:
        server.send_signal(signal.SIGCONT)
    server.wait(timeout=30)
    assert server.returncode == 0, output(server)


def test_the_workers_end_with_the_server(instance):
    """A server killed with SIGKILL leaves no worker serving its port."""
    env, port = instance
    server = serve(env, port, "--workers", "2")
    children = workers(server.pid)
    server.kill()
    server.wait(timeout=10)
    try:
        eventually(lambda: all(state(pid) in ("Z", "gone") for pid in children))
    finally:
        for pid in children:
            if state(pid) not in ("Z", "gone"):
                os.kill(pid, signal.SIGKILL)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=5)


def test_a_stop_while_the_workers_start_is_prompt(instance):
    """SIGTERM to every process while the workers still build the app: they
    end at once instead of serving until the server's 20 s grace runs out.
    Building the app hashes a dummy password (constant-time logins): with a
    costly hash the workers take about a second to start."""
    env, port = instance
    env = {**env, "KEYHOLDER_PASSWORD_TIME_COST": "20", "KEYHOLDER_PASSWORD_MEMORY_COST": "65536"}
    server = launch([str(KEYHOLDER), "serve", "--port", str(port), "--workers", "2"], env)
    try:
        eventually(lambda: len(workers(server.pid)) == 2)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    finally:
        kill(server)
    assert server.returncode == 0, output(server)
    assert "Started worker" not in output(server)


def test_sigterm_drains_first(instance):
    """After SIGTERM, /health/ready answers 503 for KEYHOLDER_DRAIN_SECONDS
    while every other request is still served; then the server stops
    (issue 15: a balancer polling readiness stops sending before the
    listener closes, so it drops nothing)."""
    env, port = instance
    env = {**env, "KEYHOLDER_DRAIN_SECONDS": "2"}
    server = serve(env, port, "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        assert requests.get(f"{base}/health/ready", timeout=5).status_code == 200
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        eventually(lambda: requests.get(f"{base}/health/ready", timeout=5).status_code == 503,
                   seconds=1)
        assert requests.get(f"{base}/health/ready", timeout=5).json()["node"] == "draining"
        served = 0
        while time.monotonic() - signalled < 1.5:
            assert requests.get(f"{base}/jwks.json", timeout=5).status_code == 200
            served += 1
        assert served > 10
        server.wait(timeout=30)
        assert time.monotonic() - signalled >= 2
    finally:
        kill(server)
    assert server.returncode == 0, output(server)
