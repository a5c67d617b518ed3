"""Headers on every response (SECURITY §2.10): no framing, no referrer, no
sniffing, only our own assets, and pages that hold forms are never cached."""

from flask import Flask, Response

# No form-action: browsers apply it to the redirect after a form post, which
# would block the return to the relying party.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def init_app(app: Flask) -> None:
    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            headers["Cache-Control"] = "no-store"
        return response
