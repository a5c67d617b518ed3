"""The Flask app every web service shares (:func:`create_service_app`): the
relying party of :mod:`services.relying_party`, its views
(:mod:`services.rp_views`), server-side sessions, CSRF, the security headers,
the provider's security events (:mod:`services.security_events`), the
languages and the shared header, the error pages, and the guard that sends a
person without a session to sign in (or, after a logout elsewhere, to the
"You are signed out" page) and refreshes a session whose claims changed."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect

from claims import Identity
from claims.errors import MissingEntitlement
from idp import i18n
from idp.infrastructure import compiled_templates
from services import (
    error_pages,
    language,
    masthead,
    refusals,
    rp_views,
    security,
    security_events,
)
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
    compiled_templates.init_app(app)
    # The provider's catalogue first: its shared words (roles, dates), then ours.
    i18n.init_app(app, packages=[Path(i18n.__file__).parents[1], Path(__file__).parent],
                  choose=language.choose,
                  time_zone=config.time_zone)
    app.context_processor(language.switcher)
    rp = WebRelyingParty(config)
    rp.sessions.ended.keep = _language_of
    app.extensions[EXTENSION] = rp
    app.session_interface = ServerSessionInterface(rp.sessions)
    csrf = CSRFProtect(app)
    csrf.exempt(rp_views.backchannel_logout)  # the provider's server calls it, not a browser
    if config.security_events_authorization is not None:
        rp.security_events = security_events.web_receiver(
            config.issuer, config.client_id, rp.sessions, http=rp.provider.http,
            timeout=rp.provider.timeout)
        rp.refresher = security_events.SessionRefresher(rp)
        csrf.exempt(security_events.install(app, rp.security_events,
                                            config.security_events_authorization))
    security.init_app(app, exempt={"rp.backchannel_logout", security_events.ENDPOINT})
    app.register_blueprint(rp_views.blueprint)
    app.register_blueprint(language.blueprint)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.before_request(_guard)
    error_pages.install(app, "services/error.html")
    app.register_error_handler(CSRFError, _csrf_error)

    @app.context_processor
    def page_context() -> dict:
        return {**masthead.context(config), "service": masthead.Shown(config),
                "identity": current_identity()}

    return app


def _language_of(data: dict) -> str | None:
    """The language a session's pages spoke (for the page after its logout)."""
    identity = data.get(IDENTITY)
    claimed = identity.claims.get("locale") if isinstance(identity, Identity) else None
    return i18n.language_of(data.get(language.CHOSEN)) or i18n.language_of(claimed)


def _guard():
    """Every page but the relying party's own needs a signed-in person, and
    the service's entitlement when it has one. A session whose claims changed
    at the provider (a security event) is refreshed first."""
    if request.endpoint in (None, "static", "keyholder_css", security_events.ENDPOINT) \
            or request.blueprint in ("rp", "language"):
        return None
    rp = current_rp()
    if rp.refresher is not None:
        answer = rp.refresher.refresh_if_stale()
        if answer is not None:
            return answer
    identity = current_identity()
    if identity is None:
        if request.method != "GET":
            return refusals.message_page(
                _("Please sign in again"), _("Your session has ended, so nothing was changed."),
                status=401, link=url_for("rp.login"), link_label=_("Sign in"))
        ended = rp.sessions.take_ended(request.cookies.get(current_app.config[
            "SESSION_COOKIE_NAME"]))
        if ended is not None:  # a logout elsewhere: say so, rather than ask for a password
            return redirect(url_for("rp.signed_out", state=ended.kept), 303)
        query = request.query_string.decode("ascii", "replace")
        return redirect(url_for("rp.login", next=request.path + (f"?{query}" if query else "")))
    wanted = rp.config.required_entitlement
    if wanted is not None:
        try:
            identity.require(wanted)
        except MissingEntitlement as refusal:
            i18n.current_language()  # chosen now, while the person's locale claim is known
            if rp.security_events is None:
                # The identity is a snapshot of the ID token, and no event will say
                # it changed. Forget it (the ID token, sid and sub stay, for signing
                # out): the next visit asks the provider again, so a promotion in
                # the console shows then. With security events the session stays:
                # a promotion refreshes it at its next request.
                session.pop(IDENTITY, None)
            return refusals.refused(identity, wanted, refusal.reason)
    return None


def _csrf_error(error: CSRFError):
    return refusals.message_page(
        _("This form could not be accepted"), _("It was open too long, or it did not come from "
                                                "this site. Nothing was changed: please reload "
                                                "the page and try again."), status=400,
        link="/", link_label=_("Back to the start page"),
        detail=_("Code for our helpdesk: %(code)s", code="csrf"))


__all__ = ["create_service_app"]
