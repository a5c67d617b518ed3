"""Serving the provider: under gunicorn (``keyholder serve``), with an access log that
never records a query string (where ``id_token_hint`` and other tokens
travel) or a referrer ("No tokens in logs or URLs", docs/security.md)."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication
from werkzeug.serving import WSGIRequestHandler

from idp.settings import Settings

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


def gunicorn_options(settings: Settings, host: str | None, port: int | None,
                     workers: int | None, threads: int) -> dict:
    """gunicorn's settings for ``keyholder serve``."""
    return {
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
        "forwarded_allow_ips": "",  # idp.infrastructure.edge decides whom to believe
        "proc_name": "keyholder",
    }
