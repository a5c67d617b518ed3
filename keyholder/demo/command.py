"""``keyholder demo``: the provider with its console, every partner service,
the outbox worker and a mailbox, in one process on loopback, with the demo
data loaded (:mod:`keyholder.demo.data`). Demo mode never runs in production:
the passwords are public on purpose."""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from idp.infrastructure import database, migrate
from idp.infrastructure.serve import ScrubbedRequestHandler
from idp.keys import key_store
from idp.outbox.worker import start_background_worker
from idp.settings import SettingsError, load_settings
from keyholder.demo import launcher
from keyholder.demo.data import load_demo_data, logins_table
from keyholder.provider import create_app


@click.command("demo")
@click.option("--host", help="Address to listen on (default: KEYHOLDER_HOST).")
@click.option("--port", type=int, help="Port to listen on (default: KEYHOLDER_PORT).")
@click.option("--reset", is_flag=True,
              help="Start again from the demo data: forget every change made in the demo "
                   "(its SQLite database and the operator's records; the keys stay).")
def demo_command(host: str | None, port: int | None, reset: bool) -> None:
    """Set up the demo instance (database, keys, demo data) and run it on loopback.
    SIGTERM or Ctrl-C stops it (exit 0)."""
    try:
        settings = load_settings(overrides={"DEMO": True})
        if reset:
            click.echo(reset_demo(settings))
        host, port = host or settings.HOST, port or settings.PORT
        listener = _listen(host, port)
        # The issuer is where the demo listens, unless KEYHOLDER_ISSUER says otherwise.
        issuer = {} if "ISSUER" not in settings.from_default else {
            "ISSUER": f"http://{host}:{port}"}
        app = create_app({"DEMO": True, **issuer})
    except SettingsError as error:
        raise click.ClickException("invalid settings:\n" + str(error)) from None
    migrate.upgrade(database.engine(app))
    key_store(app).ensure()
    load_demo_data(app)
    server = make_server(host, port, app, threaded=True, fd=listener.fileno(),
                         request_handler=ScrubbedRequestHandler)
    base = f"http://{host}:{server.port}"
    try:
        running, stop_services = launcher.start(app, host)
    except OSError as error:
        listener.close()
        raise click.ClickException(f"cannot start the services: {error.strerror or error}"
                                   ) from None
    worker = start_background_worker(app)  # sends the outbox to the demo mailbox
    click.echo(banner(base, running, app))
    # SIGTERM (a service manager, `timeout`, `kill`) stops it as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()  # returns on Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        stop_services()
        worker.stop(timeout=10)
        listener.close()
    click.echo("\nStopped.")


def reset_demo(settings) -> str:
    """Delete the demo's SQLite database and the operator's records, so that
    the next start loads the demo data afresh. Only the demo's own files."""
    url = make_url(settings.DATABASE_URL)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException("--reset deletes only the demo's SQLite database; "
                                   f"KEYHOLDER_DATABASE_URL is {url.get_backend_name()}")
    database_file = Path(url.database)
    removed = []
    for path in (database_file, Path(f"{database_file}-wal"), Path(f"{database_file}-shm"),
                 Path(settings.INSTANCE_PATH) / "operator.db"):
        if path.exists():
            path.unlink()
            removed.append(path.name)
    return "Reset: " + (", ".join(removed) if removed else "nothing to remove") + \
        ". The demo data is loaded again."


def banner(base: str, running, app: Flask) -> str:
    lines = ["Keyholder demo", "", f"  {'Provider (sign in, the console at /console)':<46} {base}/",
             f"  {'Discovery':<46} {base}/.well-known/openid-configuration",
             f"  {'Health':<46} {base}/health"]
    lines += [f"  {service.title:<46} {service.url}{service.entry}" for service in running]
    lines += ["", logins_table(), "",
              "The app: .venv/bin/keyholder app login --issuer " + base + " --client-id "
              + app.config["DEMO_APP_CLIENT_ID"] + " --resource " + app.config["DEMO_USAGE_API"],
              "", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, so that a busy port is one clear line rather than a traceback."""
    try:
        listener = socket.create_server((host, port), reuse_port=False)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.set_inheritable(True)
    return listener
