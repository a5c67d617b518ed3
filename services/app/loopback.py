"""The app's loopback redirect receiver (RFC 8252 §7.3).

A one-shot HTTP server on ``127.0.0.1`` that waits for the browser to bring
back the authorization response to ``/callback`` and hands its query
parameters to the app. It listens on the loopback interface only (§8.3: never
on every interface), answers one page to the browser, and ignores everything
else that arrives (a favicon request, a probe on another path).

Which port: Keyholder matches redirect URIs exactly, port included, so the
app listens on the port its registered redirect URI names (``--port``,
8765 by default: the demo registers ``http://127.0.0.1:8765/callback``).
Port 0 takes an ephemeral port, for a provider that ignores the port of
loopback redirect URIs as RFC 8252 §7.3 asks.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
CALLBACK_PATH = "/callback"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:17px/1.5 system-ui,sans-serif;color:#1c2430;background:#f5f7fa;margin:0}}
main{{max-width:34rem;margin:2.5rem auto;padding:1.5rem 1.75rem;background:#fff;
border:1px solid #d5dbe3;border-radius:10px}}h1{{font-size:1.5rem;margin:0 0 1rem}}</style>
</head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>"""


class CallbackTimeout(Exception):
    """No authorization response arrived in time."""


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackReceiver

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH or self.server.params is not None:
            self._answer(404, "Not here", "This address only receives one sign-in.")
            return
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if "error" in params:
            self._answer(200, "Sign-in not completed",
                         "The app received the answer. You can close this window.")
        else:
            self._answer(200, "Signed in",
                         "You are signed in to the app. You can close this window.")
        self.server.params = params
        self.server.received.set()

    def _answer(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=title, text=text).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")  # the URL holds the code
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # the request line holds the authorization code: never logged


class LoopbackReceiver(HTTPServer):
    """``with LoopbackReceiver(port) as receiver: ... receiver.wait(timeout)``."""

    def __init__(self, port: int = DEFAULT_PORT) -> None:
        super().__init__((HOST, port), _Handler)
        self.params: dict[str, str] | None = None
        self.received = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self._thread.join(timeout=5)
        self.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        """The query parameters of the authorization response."""
        if not self.received.wait(timeout):
            raise CallbackTimeout(f"No answer from the browser within {timeout:g} seconds.")
        assert self.params is not None
        return self.params


__all__ = ["CALLBACK_PATH", "DEFAULT_PORT", "HOST", "CallbackTimeout", "LoopbackReceiver"]
