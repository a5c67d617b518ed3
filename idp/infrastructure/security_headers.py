"""Headers on every response ("Locked-down pages", docs/security.md): no
framing, no referrer, no sniffing, only our own assets, and pages that hold
forms are never cached."""

from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, request, send_from_directory

STATIC = Path(__file__).parent.parent / "static"  # the stylesheet every page of ours shares

# No form-action: browsers apply it to the redirect after a form post, which
# would block the return to the relying party.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


# On every response, pages and APIs alike (the fast lane adds them too).
HEADERS = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"),
           ("Referrer-Policy", "no-referrer"), ("X-Content-Type-Options", "nosniff"))


def add_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in HEADERS:
        headers.setdefault(name, value)
    if response.mimetype == "text/html":
        headers["Cache-Control"] = "no-store"
    return response


def same_origin(own_url: str) -> bool:
    """Whether a form post comes from our own pages (defence in depth beside
    the CSRF token). Browsers say so in ``Sec-Fetch-Site``; ``Origin`` is the
    fall-back, but ``Referrer-Policy: no-referrer`` makes browsers send
    ``Origin: null`` even for our own forms, so "null" proves nothing."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in {"same-origin", "none"}
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True  # not a browser, or no say; the CSRF token still has to be right
    ours, sent = urlsplit(own_url), urlsplit(origin)
    return (sent.scheme, sent.netloc) == (ours.scheme, ours.netloc)


def share_stylesheet(app: Flask) -> None:
    """Serve the provider's stylesheet at ``/static/keyholder.css`` of another
    app (the partner services look like the provider, from one file)."""
    app.add_url_rule("/static/keyholder.css", "keyholder_css",
                     lambda: send_from_directory(STATIC, "keyholder.css"))


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
