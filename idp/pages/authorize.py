"""The authorization endpoint (OIDC Core §3.1.2), as a sequence of named checks.

    1. the request itself (Authlib: client, redirect URI, response type,
       scope, PKCE, nonce; ``request``/``request_uri`` refused)
    2. who is there: the SSO session, ``prompt``, ``max_age``, ``id_token_hint``
    3. which customer the tokens speak for (:mod:`idp.pages.customer_choice`)
    4. consent, for clients that are not first-party
    5. the code, sent back with ``state`` and ``iss``

An error before the redirect URI is known to be the client's is shown as a
page, never redirected (RFC 6749 §4.1.2.1). Every redirect carries ``iss``
(RFC 9207), errors included.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import (
    AccountSelectionRequiredError,
    ConsentRequiredError,
    LoginRequiredError,
)
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from idp.directory.services import Directory
from idp.infrastructure import database
from idp.login import sessions
from idp.pages import customer_choice
from idp.pages.consent import consent_covers, record_consent
from idp.pages.forms import DecisionForm
from idp.pages.scope_words import scope_descriptions
from idp.protocol import resources
from idp.protocol.server import server
from idp.protocol.tokens.hints import id_token_hint_subject

blueprint = Blueprint("authorize", __name__)

# Form fields of our own pages, never part of the authorization request.
OWN_FIELDS = {"csrf_token", "decision", customer_choice.FIELD}
FRESH_LOGIN = "fresh_login"  # key in the signed Flask session
FRESH_LOGIN_SECONDS = 300


def request_digest() -> str:
    """Names this authorization request (its parameters, in order)."""
    params = sorted((k, v) for k, v in request.values.items(multi=True) if k not in OWN_FIELDS)
    return hashlib.sha256(urlencode(params).encode()).hexdigest()


def request_url() -> str:
    """This authorization request as a GET URL (for the login page's return)."""
    params = [(k, v) for k, v in request.values.items(multi=True) if k not in OWN_FIELDS]
    return url_for("authorize.authorize") + "?" + urlencode(params)


def mark_fresh_login(sid: str, next_url: str) -> None:
    """Called by the login page: the person just authenticated for ``next_url``."""
    session[FRESH_LOGIN] = {"sid": sid, "next": hashlib.sha256(next_url.encode()).hexdigest()}


def _just_logged_in_for_this_request(sso) -> bool:
    """The login page sent the person back for exactly this request, a moment
    ago. The marker is spent when the request is answered (``_answer``)."""
    marker = session.get(FRESH_LOGIN) or {}
    if marker.get("sid") != sso.sid or sessions.age_seconds(sso) > FRESH_LOGIN_SECONDS:
        return False
    return marker.get("next") == hashlib.sha256(request_url().encode()).hexdigest()


def _answer(grant, person):
    """The code (or ``access_denied`` when ``person`` is None), to the client."""
    session.pop(FRESH_LOGIN, None)  # prompt=login / max_age hold for one answer only
    customer_choice.forget()
    return _with_iss(server().create_authorization_response(grant=grant, grant_user=person))


def _with_iss(response):
    location = response.headers.get("Location")
    if location and "iss" not in dict(parse_qsl(urlsplit(location).query)):
        response.headers["Location"] = add_params_to_uri(
            location, [("iss", current_app.config["KEYHOLDER"].ISSUER)])
    if request.method == "POST" and response.status_code == 302:
        response.status_code = 303  # RFC 9700 §4.11: never re-POST to the client
    return response


def _error(error: OAuth2Error):
    if error.redirect_uri:
        return _with_iss(server().handle_error_response(None, error))
    return render_template("authorize/error.html", error=error), error.status_code or 400


def _max_age() -> int | None:
    raw = request.values.get("max_age")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ValueError("max_age")
    return int(raw)


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize():
    db = database.session()
    sso = sessions.current(db)
    person = sso.person if sso else None

    # 1. The request.
    try:
        grant = server().get_consent_grant(end_user=person)
    except OAuth2Error as error:
        return _error(error)
    try:
        g.resources = resources.requested(request.values.getlist(resources.PARAMETER),
                                          redirect_uri=grant.redirect_uri,
                                          state=request.values.get("state"))
    except resources.InvalidTargetError as error:
        return _error(error)
    prompts = set((request.values.get("prompt") or "").split())
    try:
        max_age = _max_age()
    except ValueError:
        return _error(InvalidRequestError("'max_age' must be a whole number of seconds.",
                                          redirect_uri=grant.redirect_uri,
                                          state=request.values.get("state")))

    # 2. Who is there.
    needs_login = person is None or "login" in prompts
    if person is not None and max_age is not None and sessions.age_seconds(sso) > max_age:
        needs_login = True
    hinted = id_token_hint_subject(request.values.get("id_token_hint"))
    if person is not None and hinted is not None and hinted != person.id:
        needs_login = True
    if needs_login and person is not None and _just_logged_in_for_this_request(sso):
        needs_login = False
    if needs_login:
        if "none" in prompts:
            return _error(LoginRequiredError(redirect_uri=grant.redirect_uri,
                                             state=request.values.get("state")))
        return redirect(url_for("login.login", next=request_url(),
                                login_hint=request.values.get("login_hint")), 303
                        if request.method == "POST" else 302)

    # 3. Which customer.
    client, scope = grant.client, grant.request.scope or ""
    state = request.values.get("state")
    form = DecisionForm()
    picked = request.form.get(customer_choice.FIELD) if request.method == "POST" else None
    stale_pick = picked is not None and not form.validate_on_submit()
    try:
        choice = customer_choice.choose(Directory(db), person, request_digest(),
                                        None if stale_pick else picked)
    except customer_choice.ChoiceRefused as refused:
        return _error(InvalidRequestError(refused.description, redirect_uri=grant.redirect_uri,
                                          state=state))
    if choice.needed:
        if "none" in prompts:
            return _error(AccountSelectionRequiredError(redirect_uri=grant.redirect_uri,
                                                        state=state))
        return render_template("authorize/choose_customer.html", form=form, client=client,
                               person=person, choices=choice.choices, action=request_url(),
                               expired=stale_pick), 400 if stale_pick else 200
    g.chosen_customer_id = choice.membership.customer_id if choice.membership else None

    # 4. Consent.
    if not client.first_party and ("consent" in prompts or not consent_covers(db, person,
                                                                             client, scope)):
        if "none" in prompts:
            return _error(ConsentRequiredError(redirect_uri=grant.redirect_uri,
                                               state=request.values.get("state")))
        if request.method == "POST" and "decision" in request.form:
            if not form.validate_on_submit():
                return render_template("authorize/consent.html", form=form, client=client,
                                       scopes=scope_descriptions(scope), person=person,
                                       action=request_url(), expired=True), 400
            if request.form["decision"] != "allow":
                return _answer(grant, None)
            database.restart_as_writer(db)
            record_consent(db, person, client, scope)
        else:
            return render_template("authorize/consent.html", form=form, client=client,
                                   scopes=scope_descriptions(scope), person=person,
                                   action=request_url(), expired=False)

    # 5. The code (a write: on SQLite, start over as a writer unless consent did).
    if "decision" not in request.form:
        database.restart_as_writer(db)
    response = _answer(grant, person)
    db.commit()
    return response
