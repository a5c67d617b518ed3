"""``keyholder serve``: the provider under gunicorn, and an access log that
never records a query string (where ``id_token_hint`` and other tokens
travel) or a referrer (SECURITY §2.19)."""

from __future__ import annotations

import click
from gunicorn.app.base import BaseApplication
from werkzeug.serving import WSGIRequestHandler

from idp.settings import SettingsError, load_settings

# Method and path only: no query, no referrer, no user agent.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class ProviderServer(BaseApplication):
    """gunicorn running ``create_app()`` in each worker (no app before fork,
    so no database connection is shared between processes)."""

    def __init__(self, options: dict, app_factory) -> None:
        self.options = options
        self.app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.app_factory()


class ScrubbedRequestHandler(WSGIRequestHandler):
    """The demo server's access log, with the same rule."""

    def log_request(self, code="-", size="-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s" %s %s', self.command, path, code, size)


@click.command("serve")
@click.option("--host", help="Address to listen on (default: KEYHOLDER_HOST).")
@click.option("--port", type=int, help="Port (default: KEYHOLDER_PORT).")
@click.option("--workers", type=click.IntRange(1, 256),
              help="Worker processes (default: KEYHOLDER_WORKERS).")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads per worker (gthread when above 1).")
def serve_command(host: str | None, port: int | None, workers: int | None, threads: int) -> None:
    """Run the provider in production under gunicorn."""
    from idp import create_app

    try:
        settings = load_settings()
        create_app()  # check the settings and the key store before forking
    except SettingsError as error:
        raise click.ClickException("invalid settings:\n" + str(error)) from None
    options = {
        "bind": f"{host or settings.HOST}:{port or settings.PORT}",
        "workers": workers or settings.WORKERS,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": settings.LOG_LEVEL.lower(),
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
        "forwarded_allow_ips": "",  # idp.client_ip decides whom to believe
        "proc_name": "keyholder",
    }
    ProviderServer(options, create_app).run()
