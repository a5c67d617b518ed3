"""The HTTP routes of the token, introspection, revocation, UserInfo and
end-session endpoints. Each delegates to Authlib in a few lines; the token
and revocation routes commit what the grants wrote (also on errors: a burnt
code or a revoked family must stay so)."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, render_template, request

from idp.infrastructure import database
from idp.infrastructure.edge import api
from idp.login import sessions
from idp.pages.forms import LogoutForm
from idp.protocol.server import server

blueprint = Blueprint("endpoints", __name__)

WRITING_GRANTS = {"authorization_code", "refresh_token",
                  "urn:ietf:params:oauth:grant-type:device_code"}


def _no_store(response: Response) -> Response:
    # RFC 6749 §5.1; "No caching of token responses" (docs/security.md).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@blueprint.post("/token")
@api
def token():
    db = database.session()
    if request.form.get("grant_type") in WRITING_GRANTS:
        database.begin_write(db)  # SQLite: take the write lock before reading the code
    response = server().create_token_response()
    db.commit()
    return _no_store(response)


@blueprint.post("/device_authorization")
@api
def device_authorization():
    return _no_store(server().create_endpoint_response("device_authorization"))


@blueprint.post("/introspect")
@api
def introspect():
    return _no_store(server().create_endpoint_response("introspection"))


@blueprint.post("/revoke")
@api
def revoke():
    db = database.session()
    database.begin_write(db)
    response = server().create_endpoint_response("revocation")
    db.commit()
    return _no_store(response)


@blueprint.route("/userinfo", methods=["GET", "POST"])
@api
def userinfo():
    return _no_store(server().create_endpoint_response("userinfo"))


@blueprint.route("/logout", methods=["GET", "POST"])
def end_session():
    """RP-initiated logout; a logout without a valid hint for this browser's
    person is confirmed by the person first (a POST with a CSRF token)."""
    try:
        validated = server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return render_template("authorize/error.html", error=error), 400
    db = database.session()
    sso = sessions.current(db)
    hint = validated.id_token_claims or {}
    confirmed_by_hint = sso is not None and hint.get("sub") == sso.person_id
    form = LogoutForm()
    needs_confirmation = sso is not None and not confirmed_by_hint
    if needs_confirmation and (request.method == "GET" or not form.validate_on_submit()):
        form.process(data={k: request.values.get(k, "") for k in
                           ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")})
        return render_template("login/confirm_logout.html", form=form, person=sso.person,
                               client=validated.client)
    # Ending the session writes (and queues its logout tokens and events): on
    # SQLite a reader whose snapshot predates another commit cannot write.
    database.restart_as_writer(db)
    response = server().create_endpoint_response("end_session", validated)
    db.commit()
    if response is None or response.status_code != 302:
        response = Response(render_template("login/signed_out.html"))
    elif request.method == "POST":
        response.status_code = 303
    sessions.clear_cookie(response)
    return response
