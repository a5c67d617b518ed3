"""OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414) and the JWKS.

Both are served as bytes computed once: the metadata per application, the
JWKS by the key store whenever the keys change. Only what is really
supported is advertised."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, current_app

from idp import i18n
from idp.clients.models import ID_TOKEN_ALGORITHMS, GrantType
from idp.keys import key_store
from idp.protocol.claims_release import supported_claims
from idp.protocol.scopes import supported_scopes
from idp.protocol.tokens.minting import ACCESS_TOKEN_ALG

blueprint = Blueprint("discovery", __name__)
CACHE = "public, max-age=300"
METADATA_TYPE = "application/json"
JWKS_TYPE = "application/jwk-set+json"
EXTENSION = "keyholder.metadata"


def metadata(app: Flask) -> dict:
    issuer = app.config["KEYHOLDER"].ISSUER
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        "device_authorization_endpoint": f"{issuer}/device_authorization",
        "scopes_supported": supported_scopes(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [GrantType.AUTHORIZATION_CODE.value,
                                  GrantType.REFRESH_TOKEN.value,
                                  GrantType.CLIENT_CREDENTIALS.value,
                                  GrantType.DEVICE_CODE.value],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGORITHMS),
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": supported_claims(),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": list(i18n.LANGUAGES),
        "access_token_signing_alg_values_supported": [ACCESS_TOKEN_ALG],
        # RFC 8707 defines no metadata name; this one says `resource` is honoured.
        "resource_indicators_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


def init_app(app: Flask) -> None:
    with app.app_context():  # the claims plugins say which scopes and claims exist
        app.extensions[EXTENSION] = json.dumps(metadata(app), indent=1).encode()


def metadata_bytes(app: Flask) -> bytes:
    return app.extensions[EXTENSION]


@blueprint.get("/.well-known/openid-configuration")
@blueprint.get("/.well-known/oauth-authorization-server")
def openid_configuration():
    return Response(metadata_bytes(current_app), content_type=METADATA_TYPE,
                    headers={"Cache-Control": CACHE})


@blueprint.get("/jwks.json")
def jwks():
    # Short cache: a rotation must reach relying parties within minutes.
    return Response(key_store(current_app).jwks_bytes(), content_type=JWKS_TYPE,
                    headers={"Cache-Control": CACHE})
