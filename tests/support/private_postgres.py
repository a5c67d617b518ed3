"""A PostgreSQL cluster of the test's own, which the test may stop and start
(the fault tests, ``tests/test_faults.py``): ``initdb`` into a temporary
folder, ``pg_ctl`` on a free private port of this xdist worker's slice,
listening on 127.0.0.1 only, trust authentication.

    with PrivatePostgres() as server:      # initdb, then start
        url = server.create_database("keyholder")
        server.stop()                       # pg_ctl stop -m fast: connections refused
        server.start()                      # the same data, the same port

The binaries are Debian's (``/usr/lib/postgresql/<version>/bin``, the newest
version), else those on ``PATH``; without them the test skips on a laptop
and fails in CI (:func:`tests.support.databases.unavailable`). initdb refuses
to run as root: as root (here and in CI) every binary runs as the
``postgres`` user (``runuser -u postgres --``) in a folder that user owns.

Only this cluster is ever stopped: every ``pg_ctl`` names its own data
folder, never the machine's server (5432)."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.databases import unavailable
from tests.support.ports import free_port

SERVER_USER = "postgres"
MACHINE_PORT = 5432  # the machine's own server: never ours


def binaries() -> Path:
    """The folder of the newest PostgreSQL's initdb and pg_ctl."""

    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name)) or (0,)

    found = sorted((p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
                   key=version)
    if found and (found[-1] / "pg_ctl").exists():
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl", path=str(Path(initdb).parent)):
        return Path(initdb).parent
    unavailable("the PostgreSQL server's binaries (initdb, pg_ctl) are not installed "
                "(apt-get install postgresql)")
    raise AssertionError("unreachable")  # unavailable() skips or fails


class PrivatePostgres:
    """One cluster in a temporary folder; :meth:`start` makes it the first
    time (initdb), :meth:`stop` stops only it, :meth:`url` names it."""

    def __init__(self, port: int | None = None) -> None:
        self.bin = binaries()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self.owner = pwd.getpwnam(SERVER_USER)
            except KeyError:
                unavailable(f"running as root, and there is no {SERVER_USER!r} user to run "
                            "PostgreSQL as")
        self.port = port or free_port()
        assert self.port != MACHINE_PORT
        # Under /tmp (not pytest's tmp_path, whose folders the postgres user
        # cannot enter); short, as a socket's path must be.
        self.folder = Path(tempfile.mkdtemp(prefix="keyholder-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        if self.as_root:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        self.initialised = False
        self.running = False

    # -- the binaries ---------------------------------------------------

    def _run(self, name: str, *args: str, timeout: float = 60) -> str:
        command = [str(self.bin / name), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}\n{self.server_log()[-3000:]}")
        return done.stdout

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    # -- life -----------------------------------------------------------

    def start(self) -> PrivatePostgres:
        """initdb (the first time), then ``pg_ctl start``: returns once it
        accepts connections on 127.0.0.1:port."""
        if not self.initialised:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SERVER_USER,
                      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
            self.initialised = True
        # A test database: no fsync (nothing here must survive a power cut),
        # room for several nodes' pools.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200 -c shared_buffers=32MB")
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "-o", options, timeout=90)
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE`` of this cluster (its own data folder only):
        ``fast`` ends every session (clients see their connections closed),
        ``immediate`` is a crash."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                  timeout=90)
        self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str) -> None:
        """Statements outside a transaction (CREATE DATABASE...), as the superuser."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER,
                             dbname="postgres", autocommit=True, connect_timeout=10) as admin:
            for statement in statements:
                admin.execute(statement)

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of ``template``, if given): its URL."""
        suffix = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url(name)

    def close(self) -> None:
        """Stop it (whatever state it is in) and remove its folder."""
        if self.initialised and (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        self.running = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *_exc) -> None:
        self.close()
