"""``keyholder serve`` in processes of their own, several on one instance
(one database, one keys folder, one issuer): the settings as ``KEYHOLDER_*``
environment variables, each process's output in a file of its own, ready
once ``/health`` answers, stopped with SIGTERM to its process group.

Only the options that every server behind ``keyholder serve`` keeps are
used: ``--host``, ``--port`` and ``--workers``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.settings import TEST_SETTINGS

KEYHOLDER = Path(sys.executable).with_name("keyholder")
START_TIMEOUT = 60  # seconds; a server imports the whole provider first


def instance_environment(database_url: str, folder: Path, issuer: str,
                         **settings: object) -> dict[str, str]:
    """The environment of a ``keyholder`` command on the instance in
    ``folder`` (``instance/`` and ``keys/``, as ``tests.support.apps.build_app``
    lays them out): the test settings, ``settings`` over them, and none of
    this process's own ``KEYHOLDER_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update({f"KEYHOLDER_{k}": str(v) for k, v in {**TEST_SETTINGS, **settings}.items()})
    env.update(KEYHOLDER_DATABASE_URL=database_url,
               KEYHOLDER_INSTANCE_PATH=str(folder / "instance"),
               KEYHOLDER_KEYS_DIR=str(folder / "keys"), KEYHOLDER_ISSUER=issuer)
    return env


@dataclass
class ServerProcess:
    url: str  # where it listens, which need not be the issuer
    process: subprocess.Popen
    log: Path

    def output(self, last: int = 4000) -> str:
        """The end of what the server wrote (its access log, its errors)."""
        return self.log.read_text(errors="replace")[-last:]


def _wait_until_healthy(server: ServerProcess) -> None:
    # /health is exempt from the issuer's origin check (idp.infrastructure.edge),
    # so it answers on any address a server listens on.
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"keyholder serve exited with {server.process.returncode}:\n"
                                 f"{server.output()}")
        try:
            if requests.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{server.url}/health did not answer:\n{server.output()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def serving(env: dict[str, str], ports: list[int], logs: Path, workers: int = 1
            ) -> Iterator[list[ServerProcess]]:
    """``keyholder serve`` on 127.0.0.1 at each of ``ports`` (all started at
    once, then waited for) until the block ends. Each one's output goes to
    ``logs/serve-PORT.log``: a file, not a pipe, which nobody would read and
    whose filling up with the access log would stop the server."""
    servers: list[ServerProcess] = []
    try:
        for port in ports:
            log = logs / f"serve-{port}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [str(KEYHOLDER), "serve", "--host", "127.0.0.1", "--port", str(port),
                     "--workers", str(workers)],
                    env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
            servers.append(ServerProcess(f"http://127.0.0.1:{port}", process, log))
        for server in servers:
            _wait_until_healthy(server)
        yield servers
    finally:
        for server in servers:
            _stop(server.process)
