"""The Flask app every web service shares (:func:`create_service_app`): the
relying party of :mod:`services.relying_party`, its views
(:mod:`services.rp_views`), server-side sessions, CSRF, the security headers,
and the guard that sends a person without a session to sign in."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from claims.errors import MissingEntitlement
from services import refusals, rp_views, security
from services.relying_party import (
    EXTENSION,
    IDENTITY,
    WebRelyingParty,
    WebServiceConfig,
    current_identity,
    current_rp,
)
from services.rp_session import ServerSessionInterface


def create_service_app(config: WebServiceConfig, *blueprints: Blueprint) -> Flask:
    """A Flask app for one service: the relying party and ``blueprints``."""
    app = Flask("services")  # templates and static files of the services package
    app.config.update(
        SECRET_KEY=config.secret_key, SERVICE=config,
        SESSION_COOKIE_NAME=config.cookie_name, SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=config.base_url.startswith("https:"),
        # Our Referrer-Policy (no-referrer) leaves Flask-WTF no Referer to check
        # on https; security.same_origin checks Sec-Fetch-Site / Origin instead.
        WTF_CSRF_SSL_STRICT=False, WTF_CSRF_TIME_LIMIT=3600)
    rp = WebRelyingParty(config)
    app.extensions[EXTENSION] = rp
    app.session_interface = ServerSessionInterface(rp.sessions)
    csrf = CSRFProtect(app)
    csrf.exempt(rp_views.backchannel_logout)  # the provider's server calls it, not a browser
    security.init_app(app, exempt={"rp.backchannel_logout"})
    app.register_blueprint(rp_views.blueprint)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.before_request(_guard)
    app.register_error_handler(CSRFError, _csrf_error)

    @app.context_processor
    def page_context() -> dict:
        return {"service": config, "identity": current_identity()}

    return app


def _guard():
    """Every page but the relying party's own needs a signed-in person, and
    the service's entitlement when it has one."""
    if request.endpoint in (None, "static", "keyholder_css") or request.blueprint == "rp":
        return None
    identity = current_identity()
    if identity is None:
        if request.method != "GET":
            return refusals.message_page(
                "Please sign in again", "Your session has ended, so nothing was changed.",
                status=401, link=url_for("rp.login"), link_label="Sign in")
        query = request.query_string.decode("ascii", "replace")
        return redirect(url_for("rp.login", next=request.path + (f"?{query}" if query else "")))
    wanted = current_rp().config.required_entitlement
    if wanted is not None:
        try:
            identity.require(wanted)
        except MissingEntitlement as refusal:
            # The identity is a snapshot of the ID token. Forget it (the ID token,
            # sid and sub stay, for signing out): the next visit asks the provider
            # again, so a promotion in the console shows at once.
            session.pop(IDENTITY, None)
            return refusals.refused(identity, wanted, refusal.reason)
    return None


def _csrf_error(error: CSRFError):
    return refusals.message_page(
        "This form could not be accepted", "It was open too long, or it did not come from this "
        "site. Nothing was changed: please reload the page and try again.", status=400,
        link="/", link_label="Back to the start page")


__all__ = ["create_service_app"]
