"""The Usage API: a backend that answers the usage of a customer's
subscriptions, to whoever's token allows it (docs/design.md, "Entitlements").

    app = create_app(UsageApiConfig(issuer, client_id, client_secret,
                                    resource_uri="http://127.0.0.1:8002",
                                    data_url="sqlite:///instance/operator.db"))

It is a ``service`` client of the provider with a resource URI (RFC 8707).
``GET /usage`` with ``Authorization: Bearer <access token>``: the token is
checked by introspection (RFC 7662) with the API's own client credentials,
so a revocation or a role change counts at once, and a token meant for
another service (its audience is not this API) is inactive for us and refused
401 with an RFC 6750 challenge. Then, from the entitlements the provider
answered:

- ``usage:all`` → every subscription of the token's customer number;
- ``usage:own_mobile`` → only the member's own mobile (``phone_number``);
- neither → 403 ``{"error": "insufficient_entitlement", "reason": ...}``,
  the reason in the policy's words.

The answer: ``{"customer_number": "123456789", "visibility": "all" |
"own_mobile", "mobile": null | "+32...", "usage": [{"mobile", "holder",
"month", "data_mb", "minutes", "sms"}, ...]}`` (``Cache-Control: no-store``).
The resource URI is the API's base URL (``GET {resource_uri}/usage``): that is
what the app asks for with ``resource=`` and calls.

The API never reads the provider's database: what it knows of the person is
what introspection says; the usage itself comes from the operator's data
store (:mod:`services.operator_data`).

Introspection answers are cached for a few seconds (claims.Introspector).
With ``security_events_authorization`` (its stream's ``authorization_header``),
``POST /security-events`` takes the provider's security events: a role
change or a revoked session makes the API forget what it cached about the
person, so their next request is answered as the provider sees it now.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, g, jsonify
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.orm import sessionmaker

from claims import Identity, Introspector, MissingEntitlement, WrongAudience
from claims.guards import Guard, current_guard
from claims.vocabulary import PHONE_SCOPE, Entitlement
from services import operator_data, security_events

SESSIONS = "usage_api.sessions"
ALL, OWN_MOBILE = "all", "own_mobile"


@dataclass(frozen=True)
class UsageApiConfig:
    issuer: str  # the provider
    client_id: str  # this API's client at the provider (type service)
    client_secret: str
    resource_uri: str  # its RFC 8707 resource URI: the audience of tokens for it
    data_url: str  # the operator's data store (SQLAlchemy URL)
    # The Authorization header the provider pushes security events with (the
    # stream's authorization_header); None: no security events.
    security_events_authorization: str | None = None

    def __repr__(self) -> str:  # never the secret
        return (f"UsageApiConfig(issuer={self.issuer!r}, client_id={self.client_id!r}, "
                f"resource_uri={self.resource_uri!r})")


blueprint = Blueprint("usage_api", __name__)


class AudienceCheck:
    """Introspection, and then the audience: the provider answers ``active``
    to the client a token was issued to as well as to its audience, and this
    API serves only tokens whose audience it is (RFC 8707 §2)."""

    def __init__(self, introspector: Introspector, resource_uri: str) -> None:
        self.introspector = introspector
        self.resource_uri = resource_uri

    def verify_access_token(self, token: str) -> Identity:
        identity = self.introspector.introspect(token)
        if self.resource_uri not in identity.audience:
            raise WrongAudience()
        return identity


def visibility(identity: Identity) -> tuple[str, str | None]:
    """What this identity may see: (ALL, None) or (OWN_MOBILE, its mobile).
    Raises MissingEntitlement, with the policy's reason, when neither."""
    if identity.customer_number is not None and identity.has(Entitlement.USAGE_ALL):
        return ALL, None
    identity.require(Entitlement.USAGE_OWN_MOBILE)  # the reason for a user, in words
    if identity.customer_number is None or identity.phone_number is None:
        raise MissingEntitlement(
            Entitlement.USAGE_OWN_MOBILE,
            f"This token does not say which mobile is yours (the application must ask for "
            f"the scope '{PHONE_SCOPE}').")
    return OWN_MOBILE, identity.phone_number


def _may_see_usage(identity: Identity) -> None:
    g.usage_visibility = visibility(identity)


@blueprint.get("/usage")
def usage():
    refusal = current_guard().authorise(_may_see_usage)
    if refusal is not None:
        return refusal
    customer_number = g.identity.customer_number
    seen, mobile = g.usage_visibility
    with current_app.extensions[SESSIONS]() as session:
        rows = operator_data.usage_for(session, customer_number, mobile=mobile)
    response = jsonify({"customer_number": customer_number, "visibility": seen,
                        "mobile": mobile, "usage": rows})
    response.headers["Cache-Control"] = "no-store"  # personal data, per token
    return response


def _engine(data_url: str) -> Engine:
    """The operator's store; a SQLite file through ``open_store`` (WAL, busy
    timeout: the portal writes while the API reads)."""
    url = make_url(data_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return operator_data.open_store(url.database)
    return create_engine(url)


INTROSPECTOR = "usage_api.introspector"


def create_app(config: UsageApiConfig) -> Flask:
    app = Flask(__name__)
    introspector = Introspector(config.issuer, config.client_id, config.client_secret)
    app.extensions[INTROSPECTOR] = introspector
    Guard(AudienceCheck(introspector, config.resource_uri), realm="usage-api").init_app(app)
    if config.security_events_authorization is not None:
        receiver = security_events.forgetting_receiver(config.issuer, config.client_id,
                                                       introspector)
        security_events.install(app, receiver, config.security_events_authorization)
    app.extensions[SESSIONS] = sessionmaker(_engine(config.data_url))
    app.register_blueprint(blueprint)
    return app


__all__ = ["ALL", "INTROSPECTOR", "OWN_MOBILE", "AudienceCheck", "UsageApiConfig", "create_app",
           "visibility"]
