"""Headers on every response and a same-origin check on every form post, as
the provider does ("Locked-down pages" and "No cross-site form posts",
docs/security.md): no framing, no referrer, no sniffing, only our own assets,
no JavaScript at all, and pages never cached."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import gettext as _

from idp.infrastructure.security_headers import add_headers, same_origin, share_stylesheet
from services import refusals

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask, *, exempt: set[str]) -> None:
    """``exempt``: endpoints that servers call (the back-channel logout)."""

    @app.before_request
    def refuse_cross_site_posts():
        if request.method in UNSAFE_METHODS and request.endpoint not in exempt \
                and not same_origin(current_app.config["SERVICE"].base_url):
            return refusals.message_page(
                _("This form could not be accepted"), _("It did not come from this site. "
                                                        "Nothing was changed."),
                status=403, link="/", link_label=_("Back to the start page"))
        return None

    app.after_request(add_headers)
    share_stylesheet(app)
