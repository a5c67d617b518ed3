"""What every account page shares: its refusals' words, the same-origin
check of a POST, and the way to the login page and back."""

from __future__ import annotations

from flask import current_app, redirect, request, url_for

from idp.infrastructure.security_headers import same_origin

CROSS_SITE = "This form was sent from another site, so nothing was changed."
TOO_OLD = "This page was open too long, so nothing was changed. Please try again."


def from_our_pages() -> bool:
    """A POST sent from one of the provider's own pages (not another site's)."""
    return same_origin(current_app.config["KEYHOLDER"].ISSUER)


def to_login(then: str | None = None, status: int = 302):
    """The login page, then back here (or to ``then``: a form's page, not its POST)."""
    return redirect(url_for("login.login", next=then or request.full_path.rstrip("?")), status)
