"""The relying party's own endpoints: sign in, its callback, sign out, and the
back-channel logout. Protocol work is in :mod:`services.oidc_client` and the
``claims`` toolkit, acting on logout tokens in :mod:`services.logout_receiver`;
these views keep the session and answer."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, jsonify, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from claims import InvalidCustomerNumber, normalise_customer_number
from claims.errors import InvalidToken, ProviderUnavailable
from idp import i18n
from services import language
from services.oidc_client import SignInFailed, sign_in_facts
from services.refusals import message_page
from services.relying_party import ID_TOKEN, IDENTITY, REFRESH_TOKEN, SIGN_IN, current_rp
from services.rp_session import CLAIMS_AS_OF, CUSTOMER_NUMBER, PROVIDER_SID, SIGNED_IN_AT, SUBJECT

blueprint = Blueprint("rp", __name__)
log = logging.getLogger("services.rp")
PENDING = "pending_sign_ins"  # state -> what the callback needs to finish that sign-in
PENDING_SECONDS = 10 * 60
MAX_PENDING = 5  # sign-ins under way in one browser (tabs)
PROMPTS = frozenset({"login", "select_account"})


def local_path(value: str | None) -> str:
    """``value`` if it is a path on this site, else "/": never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or any(ord(c) < 0x20 for c in value):
        return "/"
    return value


def _unavailable(error: ProviderUnavailable):
    log.warning("identity provider unavailable: %s", error.message)
    return message_page(_("Signing in is not possible right now"),
                        _("Our login service cannot be reached at the moment. Please try again "
                          "in a few minutes."), status=503, link="/", link_label=_("Try again"),
                        detail=_support(error.code))


def _support(code: str) -> str:
    return _("Code for our helpdesk: %(code)s", code=code)


def _not_finished(text: str):
    return message_page(_("This sign-in cannot be finished"), text, status=400,
                        link=url_for("rp.login"), link_label=_("Sign in"))


def _did_not_complete(text: str, code: str, status: int):
    return message_page(_("Signing in did not complete"), text, status=status,
                        link=url_for("rp.login"), link_label=_("Try again"),
                        detail=_support(code))


def _provider_refusal(error: str) -> str:
    """The provider's ``error`` on the callback (RFC 6749 §4.1.2.1), for people."""
    if error == "access_denied":
        return _("Signing in was cancelled, or you did not allow this service.")
    if error in {"login_required", "interaction_required", "consent_required",
                 "account_selection_required"}:
        return _("You need to sign in first.")
    if error == "temporarily_unavailable":
        return _("Our login service is busy. Please try again in a few minutes.")
    return _("Our login service could not sign you in. Please try again.")


@blueprint.get("/login")
def login():
    """Start the authorization code flow (``?next=`` where to go after;
    ``?customer_number=`` preselects the customer; ``?prompt=``)."""
    rp = current_rp()
    customer_number = request.args.get("customer_number")
    if customer_number:
        try:
            customer_number = normalise_customer_number(customer_number)
        except InvalidCustomerNumber:
            return message_page(_("This customer number cannot be used"),
                                _("A customer number has nine digits, such as 123 456 789."),
                                status=400, link="/", link_label=_("Back"))
    prompt = request.args.get("prompt")
    try:
        auth = rp.provider.authorization_request(
            rp.config.redirect_uri, rp.config.scope, customer_number=customer_number or None,
            prompt=prompt if prompt in PROMPTS else None, ui_locales=language.for_sign_in())
    except ProviderUnavailable as error:
        return _unavailable(error)
    now = time.time()
    pending = {state: p for state, p in session.get(PENDING, {}).items()
               if now - p["started"] < PENDING_SECONDS}
    pending = dict(sorted(pending.items(), key=lambda i: i[1]["started"])[-(MAX_PENDING - 1):])
    pending[auth.state] = {"nonce": auth.nonce, "code_verifier": auth.code_verifier,
                           "next": local_path(request.args.get("next")), "started": now}
    session[PENDING] = pending  # a new dict: the session notices the change
    return redirect(auth.url, 303)


@blueprint.get("/callback")
def callback():
    """The authorization response (RFC 6749 §4.1.2, RFC 9207's ``iss``)."""
    rp = current_rp()
    pending = dict(session.get(PENDING, {}))
    state = request.args.get("state")
    started = pending.pop(state, None) if state else None
    session[PENDING] = pending  # a state is used once, whatever happens next
    if started is None or time.time() - started["started"] >= PENDING_SECONDS:
        return _not_finished(_("It was not started in this browser, or it took too long. "
                               "Please sign in again."))
    # RFC 9207: the provider names itself in every response (it advertises
    # authorization_response_iss_parameter_supported); a response without it,
    # or from another issuer, may be a mix-up attack.
    if request.args.get("iss") != rp.config.issuer:
        return _not_finished(_("The answer did not come from our identity provider."))
    if "error" in request.args:
        error = request.args["error"]
        description = request.args.get("error_description")
        return _did_not_complete(_provider_refusal(error),
                                 f"{error}: {description}" if description else error, 400)
    try:
        tokens = rp.provider.redeem(request.args.get("code", ""), rp.config.redirect_uri,
                                    started["code_verifier"])
        identity = rp.provider.verify_id_token(tokens["id_token"], started["nonce"])
    except ProviderUnavailable as error:
        return _unavailable(error)
    except InvalidToken as error:
        log.warning("ID token refused: %s", type(error).__name__)  # never the token
        return _did_not_complete(_("Your sign-in could not be checked, so it was not accepted. "
                                   "Please try again."), error.code, 502)
    except SignInFailed as error:
        return _did_not_complete(_("Our login service did not accept this sign-in. Please try "
                                   "again."), error.code, 502)
    # A new session (a new cookie value) for the signed-in person: nothing of
    # the anonymous one, whose value may have been planted, carries over.
    # The refresh token and the sign-in's facts are kept to refresh the
    # session when the provider says its claims changed (services.security_events).
    chosen = session.get(language.CHOSEN)  # the switcher's choice before signing in stays
    session.clear()
    session.regenerate()
    if chosen:
        session[language.CHOSEN] = chosen
    issued_at = identity.claims.get("iat")
    refresh_token = tokens.get("refresh_token")
    session.update({IDENTITY: identity, ID_TOKEN: tokens["id_token"],
                    REFRESH_TOKEN: refresh_token if isinstance(refresh_token, str) else None,
                    SIGN_IN: sign_in_facts(identity, started["nonce"]),
                    SUBJECT: identity.subject, PROVIDER_SID: identity.claims.get("sid"),
                    CUSTOMER_NUMBER: identity.customer_number, SIGNED_IN_AT: issued_at,
                    CLAIMS_AS_OF: issued_at})
    return redirect(started["next"], 303)


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    """GET asks (a link on another site must not sign anyone out); POST, with
    its CSRF token, ends the session here and at the provider."""
    if request.method == "GET":
        if session.get(ID_TOKEN) is None:  # nobody to sign out
            return redirect("/", 303)
        return render_template("services/confirm_logout.html")
    rp = current_rp()
    id_token = session.get(ID_TOKEN)
    spoken = i18n.current_language()
    session.end()
    if id_token is None:  # not signed in here: nothing was signed out
        return redirect("/", 303)
    try:
        # The state comes back with the browser: the signed-out page speaks
        # the language this one did (the session, and its choice, are gone).
        return redirect(rp.provider.end_session_url(id_token, rp.config.post_logout_redirect_uri,
                                                    state=spoken, ui_locales=spoken), 303)
    except ProviderUnavailable as error:
        return _unavailable(error)


@blueprint.get("/signed-out")
def signed_out():
    """Where the provider sends the browser back after signing out (the
    post-logout redirect URI), and where a visit lands after a logout
    elsewhere (:func:`services.web_rp.create_service_app`'s guard);
    ``?state=`` is the language to speak."""
    if session.get(IDENTITY) is not None:  # signed in (again): nothing to say
        return redirect("/", 303)
    spoken = None if session.get(language.CHOSEN) else i18n.language_of(request.args.get("state"))
    if spoken is None:
        return render_template("services/signed_out.html")
    with force_locale(i18n.locale_for(spoken)):
        return render_template("services/signed_out.html")


@blueprint.post("/backchannel-logout")
def backchannel_logout():
    """OpenID Connect Back-Channel Logout 1.0 §2.5-2.8."""
    try:
        current_rp().logout_receiver.receive(request.form.get("logout_token"))
    except InvalidToken as error:
        log.info("logout token refused: %s", type(error).__name__)
        return _no_store(jsonify(error="invalid_request", error_description=error.message), 400)
    except ProviderUnavailable as error:
        log.warning("logout token not checked: %s", error.message)
        return _no_store(jsonify(error="temporarily_unavailable"), 503)
    return _no_store(Response(status=200), 200)


def _no_store(response, status: int):
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
