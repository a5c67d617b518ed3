"""What every account page shares: its refusals' words, the same-origin
check of a POST, and the way to the login page and back.

The words are lazy strings (:data:`idp.i18n._l`): each is translated when a
page shows it, in that page's language."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_wtf import FlaskForm

from idp.i18n import _l
from idp.infrastructure.failure_counters import Throttled
from idp.infrastructure.security_headers import same_origin

CROSS_SITE = _l("This form was sent from another site, so nothing was changed.")
TOO_OLD = _l("This page was open too long, so nothing was changed. Please try again.")


def too_many_attempts(blocked: Throttled) -> str:
    """Wrong passwords or codes have been typed too often: how long to wait."""
    return ngettext("Too many attempts. Please wait %(num)d minute and try again.",
                    "Too many attempts. Please wait %(num)d minutes and try again.",
                    blocked.minutes)


def form_refusal(form: FlaskForm, missing: str) -> str:
    """The sentence for a form that did not validate: ``missing``, unless
    its CSRF token was missing or too old."""
    return TOO_OLD if form.csrf_token.errors else missing


def unfilled(form: FlaskForm, *names: str) -> tuple[str, ...]:
    """The fields (of ``names``) the form refused: marked invalid on the page."""
    return tuple(name for name in names if getattr(form, name).errors)


def link_refused(refusal, template: str, status: int = 400):
    """The page of an e-mailed link that cannot be used (a links.LinkRefused)."""
    return render_template(template, refusal=refusal), status


def from_our_pages() -> bool:
    """A POST sent from one of the provider's own pages (not another site's)."""
    return same_origin(current_app.config["KEYHOLDER"].ISSUER)


def to_login(then: str | None = None, status: int = 302):
    """The login page, then back here (or to ``then``: a form's page, not its POST)."""
    return redirect(url_for("login.login", next=then or request.full_path.rstrip("?")), status)
