"""Which language the provider speaks to this browser, and the switcher.

In this order (docs/i18n.md):

1. the OIDC ``ui_locales`` of the authorization request under way: on the
   request itself, or in the ``next`` of the login page it led to (a query
   parameter, the login form's hidden field, or the sign-in waiting for its
   second factor);
2. the saved language of the signed-in person;
3. the switcher's choice of a visitor who is not signed in (kept in the
   signed Flask session);
4. ``Accept-Language``;
5. English.

The switcher (``POST /language``) saves the choice for a signed-in person:
his e-mails are then written in it too."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf

from idp import i18n
from idp.infrastructure import database
from idp.infrastructure.security_headers import same_origin
from idp.login import sessions
from idp.pages.masthead import QUIET

blueprint = Blueprint("language", __name__)

CHOSEN = "language"  # key in the signed Flask session: a visitor's switcher choice
PENDING_LOGIN = "second_factor_login"  # idp.login.views.PENDING


class LanguageForm(FlaskForm):
    language = StringField(validators=[AnyOf(list(i18n.LANGUAGES))])
    next = HiddenField()


def _from_target(target: object) -> str | None:
    if not isinstance(target, str) or len(target) > 4096:
        return None
    values = parse_qs(urlsplit(target).query).get("ui_locales") or []
    return i18n.from_ui_locales(values[0]) if values else None


def requested() -> str | None:
    """Step 1: ``ui_locales`` of the authorization request under way."""
    language = i18n.from_ui_locales(request.args.get("ui_locales"))
    if language:
        return language
    for target in (request.args.get("next"), request.form.get("next"),
                   (session.get(PENDING_LOGIN) or {}).get("next")):
        language = _from_target(target)
        if language:
            return language
    return None


def saved() -> str | None:
    """Step 2: the signed-in person's language (one read per request, at most)."""
    if "person_language" not in g:
        g.person_language = None
        if request.cookies.get(sessions.cookie_name(current_app)):
            try:
                with database.new_session() as db:
                    g.person_language = i18n.language_of(sessions.person_locale(db))
            except SQLAlchemyError:
                pass  # the database is down: the page that says so needs a language too
    return g.person_language


def choose() -> str | None:
    return (requested() or saved() or i18n.language_of(session.get(CHOSEN))
            or i18n.from_header(request.headers.get("Accept-Language")))


def language_form() -> LanguageForm:
    """The switcher's form for this page (built when a template asks for it)."""
    form = LanguageForm(formdata=None)
    form.language.data = i18n.current_language()
    form.next.data = request.full_path.rstrip("?") if request.method == "GET" else "/"
    return form


def switcher() -> dict:
    """Every page's template may call ``language_form()``; not e-mails (no
    request), nor a quiet page, which must not start a session for its token."""
    if not has_request_context() or g.get(QUIET):
        return {}
    return {"language_form": language_form}


@blueprint.route("/language", methods=["POST"])
def switch():
    form = LanguageForm()
    if not same_origin(current_app.config["KEYHOLDER"].ISSUER) or not form.validate_on_submit():
        abort(400)
    language = form.language.data
    session[CHOSEN] = language
    db = database.session()
    database.begin_write(db)
    sso = sessions.current(db)
    if sso is not None:
        sso.person.locale = language
    db.commit()
    target = _without_ui_locales(form.next.data)
    return redirect(target or url_for("login.signed_in"), 303)


def _without_ui_locales(target: str | None) -> str | None:
    """Back to the page, minus a ``ui_locales`` that would override the choice."""
    from idp.login.views import safe_next

    target = safe_next(target)
    if target is None or "ui_locales" not in target:
        return target
    parts = urlsplit(target)
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("ui_locales="))
    return parts.path + (f"?{query}" if query else "")


def init_app(app) -> None:
    app.register_blueprint(blueprint)
    app.context_processor(switcher)
