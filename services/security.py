"""Headers on every response and a same-origin check on every form post, as
the provider does (its SECURITY §2.10): no framing, no referrer, no sniffing,
only our own assets, no JavaScript at all, and pages never cached."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from services import refusals

# No form-action: browsers apply it to the redirect after a form post, which
# would block signing out at the provider after POST /logout.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin() -> bool:
    """Whether a form post comes from our own pages (beside the CSRF token).
    ``Sec-Fetch-Site`` when the browser sends it; else ``Origin``, where
    "null" proves nothing (our no-referrer policy makes browsers send it)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in {"same-origin", "none"}
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True  # not a browser, or no say: the CSRF token still has to be right
    ours = urlsplit(current_app.config["SERVICE"].base_url)
    sent = urlsplit(origin)
    return (sent.scheme, sent.netloc) == (ours.scheme, ours.netloc)


def init_app(app: Flask, *, exempt: set[str]) -> None:
    """``exempt``: endpoints that servers call (the back-channel logout)."""

    @app.before_request
    def refuse_cross_site_posts():
        if request.method in UNSAFE_METHODS and request.endpoint not in exempt \
                and not same_origin():
            return refusals.message_page(
                "This form could not be accepted", "It did not come from this site. "
                "Nothing was changed.", status=403, link="/", link_label="Back to the start page")
        return None

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
