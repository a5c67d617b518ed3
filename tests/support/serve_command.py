"""``keyholder serve`` (or another server) in a process of its own, for the
top-level tests of serving: its environment, starting and stopping it, its
worker processes as Linux shows them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.ports import free_port
from tests.support.settings import TEST_SETTINGS

KEYHOLDER = Path(sys.executable).with_name("keyholder")
ROOT = Path(__file__).resolve().parents[2]


def environment(folder: Path, database_url: str, issuer: int | str) -> dict:
    """The test settings for an instance in ``folder``, its issuer a URL or
    ``http://127.0.0.1:<issuer>``; none of this process's ``KEYHOLDER_*``."""
    if isinstance(issuer, int):
        issuer = f"http://127.0.0.1:{issuer}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update({f"KEYHOLDER_{k}": str(v) for k, v in TEST_SETTINGS.items()})
    env.update(KEYHOLDER_DATABASE_URL=database_url, KEYHOLDER_INSTANCE_PATH=str(folder),
               KEYHOLDER_KEYS_DIR=str(folder / "keys"), KEYHOLDER_ISSUER=issuer)
    return env


def copy_instance(folder: Path, database_url: str, keys_template: Path) -> tuple[dict, int]:
    """An instance without a ``keyholder init`` of its own (a migrated copy and
    the session's keys): its environment and port."""
    shutil.copytree(keys_template, folder / "keys")
    port = free_port()
    return environment(folder, database_url, port), port


def launch(command: list[str], env: dict) -> subprocess.Popen:
    """``command`` in a session of its own. Its output goes to a file (a pipe
    nobody reads would fill up and stall the access log): :func:`output`."""
    log = Path(env["KEYHOLDER_INSTANCE_PATH"]) / f"server-{time.monotonic_ns()}.log"
    with log.open("w") as sink:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=sink,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    server.log = log
    return server


def start(command: list[str], env: dict, port: int) -> subprocess.Popen:
    """:func:`launch`, once the server answers /health."""
    return wait_until_up(launch(command, env), port)


def wait_until_up(server: subprocess.Popen, port: int) -> subprocess.Popen:
    """``server`` once it answers /health on ``port`` (which answers any Host);
    killed, and the test failed, if it never does or exits first."""
    for _ in range(150):
        if server.poll() is not None:
            break
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.1)
    kill(server)
    raise AssertionError(f"never answered:\n{output(server)}")


def serve(env: dict, port: int, *options: str) -> subprocess.Popen:
    return start([str(KEYHOLDER), "serve", "--port", str(port), *options], env, port)


def output(server: subprocess.Popen) -> str:
    return server.log.read_text()


def stop(server: subprocess.Popen) -> str:
    """SIGTERM to the server process alone (it stops its workers); its output."""
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    assert server.returncode == 0, output(server)
    return output(server)


def kill(server: subprocess.Popen) -> None:
    """SIGKILL to the server's session, when a test failed with it running."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def workers(pid: int) -> set[int]:
    """The children of process ``pid``, whichever of its threads forked them."""
    children = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            children.update(int(child) for child in (task / "children").read_text().split())
    return children


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4): one per worker that is up,
    as each worker listens on a socket of its own (SO_REUSEPORT)."""
    hex_port = f":{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines
               if line.split()[1].endswith(hex_port) and line.split()[3] == "0A")  # LISTEN


def state(pid: int) -> str:
    """The process's state letter (R, S, Z...), or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def eventually(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)
