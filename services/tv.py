"""Proximus TV on a set-top box: a public ``device`` client that signs in with
the Device Authorization Grant (RFC 8628).

    app = create_app(TvConfig(issuer, client_id, base_url="http://127.0.0.1:8003",
                              cookie_name="tv_box", secret_key=...))

The home page is the box's screen. Not signed in, it starts a device
authorization (scope ``openid profile customer``), shows the user code big
with the verification URL, and refreshes itself every ``interval`` seconds
(an HTTP ``Refresh`` header, no JavaScript; ``?pause=1`` stops it, for
whoever needs more time: then "Check now" asks); each refresh polls the
token endpoint at most once, honouring ``interval`` and ``slow_down``. When
the tokens arrive, the access token is verified (audience: the provider's
UserInfo endpoint, or the resource the box asked for) and the ID token gives
the name. With the ``tv`` entitlement the box shows the channels; without it,
the policy's reason and a link to the provider's console, where a user may
become administrator. An expired access token is refreshed (so a promotion
shows at the next refresh); ``POST /logout`` revokes and forgets the tokens.
The screen shows a QR code of the verification link, speaks the person's
language, and has the services' shared header (:mod:`services.tv_pages`).

Each browser is one box, named by a random id in a signed cookie; the
device code and the tokens stay in this process's memory, never in the
cookie (a device code is a credential: whoever polls with it gets the tokens).

With ``security_events_authorization`` (its stream's ``authorization_header``),
``POST /security-events`` takes the provider's security events
(:mod:`services.security_events`): a ``token-claims-change`` about the
person a box shows marks the box's tokens stale, and its next screen
refreshes them (a refresh the provider refuses, the membership removed,
signs the box out); a ``session-revoked`` (the provider session the box
was approved in ended, or every session of the person) forgets the box's
tokens: it shows a new code, to be paired again.
"""


from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect

from claims import ClaimsError, InvalidToken, MissingEntitlement
from claims.policy import decide
from claims.vocabulary import Channel, Entitlement, Role
from idp import i18n
from idp.infrastructure import compiled_templates
from idp.infrastructure.security_headers import share_stylesheet
from services import error_pages, language, reasons, security_events, tv_pages
from services.device_client import DENIED, DeviceFlowError
from services.tv_boxes import CHANNELS, EXTENSION, SCOPE, Tv, TvConfig

blueprint = Blueprint("tv", __name__)


def _tv() -> Tv:
    return current_app.extensions[EXTENSION]


def _box_id() -> str:
    if not isinstance(session.get("box"), str):
        session["box"] = secrets.token_urlsafe(16)
        session.permanent = True
    return session["box"]


def _page(template: str, status: int = 200, *, refresh: int | None = None, **context):
    """A screen; with ``refresh``, it reloads itself after that many seconds
    (unless paused)."""
    paused = request.args.get("pause") == "1"
    response = current_app.make_response((render_template(
        f"tv/{template}", refresh=refresh, paused=paused, **context), status))
    if refresh and not paused:
        response.headers["Refresh"] = str(refresh)
    return response


@blueprint.get("/")
def home():
    tv, box_id = _tv(), _box_id()
    box = tv.box(box_id)
    try:
        with box.turn:
            if box.viewer is not None and (box.viewer.expired or box.stale is not None):
                tv.renew(box)
            declined = box.viewer is None and tv.advance(box) == DENIED
        if declined:
            return _page("message.html", title=_("Sign-in declined"),
                         text=_("The sign-in was declined. Start again to get a new code."),
                         again=True)
    except InvalidToken as error:
        tv.forget(box_id)
        return _page("message.html", 502, title=_("Sign-in failed"),
                     text=_("The sign-in could not be checked, so this box did not accept it. "
                            "Start again to get a new code."), again=True, code=error.code)
    except (ClaimsError, DeviceFlowError) as error:  # the provider down or refusing the box
        code = error.code if isinstance(error, ClaimsError) else "device_flow"
        return _page("message.html", 503, title=_("Cannot sign in now"),
                     text=_("Our login service cannot be reached right now. This screen tries "
                            "again by itself."), refresh=15, code=code)
    if box.viewer is None:
        authorization = box.authorization
        link = authorization.verification_uri_complete or authorization.verification_uri
        return _page("code.html", authorization=authorization, refresh=authorization.interval,
                     qr=tv_pages.qr_svg(link), spelled=tv_pages.spelled(authorization.user_code),
                     qr_label=tv_pages.QR_LABEL)
    viewer = box.viewer
    try:
        viewer.identity.require(Entitlement.TV)
    except MissingEntitlement as refusal:
        reason = reasons.translated(viewer.identity, Entitlement.TV.value, refusal.reason)
        return _page("refused.html", 403, viewer=viewer, reason=reason,
                     may_become=_may_become_administrator(viewer))
    return _page("home.html", viewer=viewer, channels=CHANNELS)


def _may_become_administrator(viewer) -> bool:
    """Would the person watch as an administrator? (Then the console helps.)"""
    identity = viewer.identity
    return identity.role is Role.USER and identity.customer_type is not None and \
        bool(decide(Entitlement.TV, Role.ADMINISTRATOR, identity.customer_type, Channel.APP,
                    has_own_mobile=True))


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    """GET asks (a link elsewhere must not sign the box out); POST, with its
    CSRF token, revokes and forgets the box's tokens: it shows a new code."""
    tv = _tv()
    if tv.showing(session.get("box")) is None:
        return redirect(tv.config.base_url.rstrip("/") + "/", 303)
    if request.method == "GET":
        return _page("confirm_logout.html")
    box = tv.forget(session.pop("box", None) or "")
    if box is not None and box.viewer is not None and box.viewer.refresh_token:
        tv.device.revoke(box.viewer.refresh_token)
    flash(_("This box is signed out. To watch again, sign in with the new code."))
    return redirect(tv.config.base_url.rstrip("/") + "/", 303)


def _security_headers(response):
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; "
                                                   "img-src 'self'; frame-ancestors 'none'")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"  # the user code, the viewer's name
    return response


def create_app(config: TvConfig) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder="static/tv",
                static_url_path="/static")
    base = urlsplit(config.base_url)
    app.config.update(SECRET_KEY=config.secret_key, SESSION_COOKIE_NAME=config.cookie_name,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=base.scheme == "https",
                      SESSION_COOKIE_PATH=base.path or "/", WTF_CSRF_SSL_STRICT=False)
    tv = app.extensions[EXTENSION] = Tv(config)

    def viewer_locale():
        viewer = tv.showing(session.get("box"))
        return viewer.locale if viewer is not None else None

    compiled_templates.init_app(app)
    i18n.init_app(app, packages=[Path(i18n.__file__).parents[1], Path(__file__).parent],
                  choose=lambda: tv_pages.choose(viewer_locale), time_zone=config.time_zone)
    app.context_processor(language.switcher)
    app.context_processor(lambda: tv_pages.context(config, tv.showing(session.get("box"))))
    csrf = CSRFProtect(app)
    app.register_blueprint(blueprint)
    app.register_blueprint(language.blueprint)
    share_stylesheet(app)
    if config.security_events_authorization is not None:
        csrf.exempt(security_events.install(app, tv.security_events,
                                            config.security_events_authorization))
    error_pages.install(app, "tv/error.html")
    app.after_request(_security_headers)
    return app


__all__ = ["CHANNELS", "SCOPE", "Tv", "TvConfig", "create_app"]
