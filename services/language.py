"""Which language a partner service speaks, and its switcher.

A service cannot write the provider's directory, so its order is (docs/i18n.md):

1. the switcher's choice in this browser's session here;
2. the signed-in person's ``locale`` claim (their saved language at the provider);
3. ``Accept-Language``;
4. English.

Its sign-in passes the language on as ``ui_locales`` (a ``?ui_locales=`` on
``/login`` wins), so the provider's pages match."""

from __future__ import annotations

from flask import Blueprint, abort, has_request_context, redirect, request, session
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf

from idp import i18n
from services.relying_party import current_identity

blueprint = Blueprint("language", __name__)
CHOSEN = "language"


class LanguageForm(FlaskForm):
    language = StringField(validators=[AnyOf(list(i18n.LANGUAGES))])
    next = HiddenField()


def choose() -> str | None:
    identity = current_identity()
    claimed = identity.claims.get("locale") if identity is not None else None
    return (i18n.language_of(session.get(CHOSEN)) or i18n.language_of(claimed)
            or i18n.from_header(request.headers.get("Accept-Language")))


def for_sign_in() -> str:
    """``ui_locales`` for the authorization request. One asked for on
    ``/login?ui_locales=`` is a choice: the service keeps it too."""
    asked = i18n.from_ui_locales(request.args.get("ui_locales"))
    if asked:
        session[CHOSEN] = asked
    return asked or i18n.current_language()


def language_form() -> LanguageForm:
    """The switcher's form for this page (built when a template asks for it)."""
    form = LanguageForm(formdata=None)
    form.language.data = i18n.current_language()
    form.next.data = request.full_path.rstrip("?") if request.method == "GET" else "/"
    return form


def switcher() -> dict:
    """Every page's template may call ``language_form()`` (not e-mails: no request)."""
    return {"language_form": language_form} if has_request_context() else {}


@blueprint.post("/language")
def switch():
    from services.rp_views import local_path

    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    session[CHOSEN] = form.language.data
    return redirect(local_path(form.next.data), 303)
