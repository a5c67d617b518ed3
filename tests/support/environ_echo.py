"""A WSGI app that answers with the names in its environ, one a line: served
by :func:`idp.infrastructure.serve.serve` in another process
(``tests/test_serve.py``) to see what reaches an app under granian."""

from __future__ import annotations


def create_app():
    def app(environ, start_response):
        body = "\n".join(sorted(environ)).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app
