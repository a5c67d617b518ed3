"""Flask decorators that let a view run only for a valid token with what it needs.

    from claims import TokenVerifier
    from claims.guards import Guard, require_entitlement

    guard = Guard(TokenVerifier(ISSUER, audience="https://tv.example"))  # or an Introspector

    def create_app():
        app = Flask(__name__)
        guard.init_app(app)          # app.extensions["claims.guard"] = guard
        ...

    @bp.get("/matches")
    @guard.require_entitlement(Entitlement.FOOT11)   # or, with init_app, the module-level
    def matches():                                   # @require_entitlement(...)
        return {"for": g.identity.subject}

The token is read from ``Authorization: Bearer`` only (RFC 6750 §2.1; never
from the query string, where it would end up in logs). Answers:
- no token → 401 with ``WWW-Authenticate: Bearer realm="..."`` (§3: no error code);
- a token that is refused → 401, ``error="invalid_token"`` and a description;
- a valid token without the entitlement or role → 403, JSON
  ``{"error": "insufficient_entitlement" | "forbidden", "reason": "..."}``;
- the provider cannot be asked (JWKS, introspection) → 503: fail closed.

Importing this module imports Flask; ``import claims`` does not.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, Response, current_app, g, jsonify, request

from claims.errors import ClaimsError, Forbidden, InvalidToken, ProviderUnavailable
from claims.identity import Identity
from claims.vocabulary import Entitlement, Role

EXTENSION = "claims.guard"
log = logging.getLogger("claims.guards")
# RFC 6750 §2.1: b64token, after the scheme and one space.
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE | re.ASCII)
# RFC 6750 §3: what an error_description may contain.
_UNSAFE = re.compile(r'[^\x20\x21\x23-\x5B\x5D-\x7E]')


class TokenChecker(Protocol):
    """What a guard needs: TokenVerifier and Introspector both have it."""

    def verify_access_token(self, token: str) -> Identity: ...


class Guard:
    def __init__(self, checker: TokenChecker, *, realm: str = "keyholder") -> None:
        self.checker = checker
        self.realm = _UNSAFE.sub("", realm)

    def init_app(self, app: Flask) -> None:
        """Make this the guard of the module-level decorators for ``app``."""
        app.extensions[EXTENSION] = self

    # -- decorators -----------------------------------------------------------------

    def require_token(self) -> Callable:
        return self._decorator(lambda identity: None)

    def require_entitlement(self, *entitlements: Entitlement | str) -> Callable:
        def check(identity: Identity) -> None:
            for entitlement in entitlements:
                identity.require(entitlement)
        return self._decorator(check)

    def require_role(self, role: Role | str) -> Callable:
        wanted = Role(role)  # an unknown role fails here, when the view is defined
        return self._decorator(lambda identity: identity.require_role(wanted))

    def _decorator(self, check: Callable[[Identity], None]) -> Callable:
        def decorate(view: Callable) -> Callable:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any):
                refusal = self.authorise(check)
                return refusal if refusal is not None else view(*args, **kwargs)
            return guarded
        return decorate

    # -- the request ----------------------------------------------------------------

    def authorise(self, check: Callable[[Identity], None]) -> Response | None:
        """Put the request's Identity on ``g.identity`` and return None, or the
        response that refuses the request."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer"):
            return self._unauthorised(None)  # RFC 6750 §3.1: no error code without a token
        match = _BEARER.fullmatch(header)
        try:
            if match is None:
                raise InvalidToken("The Authorization header is not 'Bearer <token>'.")
            identity = self.checker.verify_access_token(match.group(1))
            g.identity = identity
            check(identity)
        except InvalidToken as error:
            log.info("token refused: %s", type(error).__name__)  # never the token
            return self._unauthorised(error)
        except Forbidden as error:
            log.info("request forbidden: %s", type(error).__name__)
            return _json(403, error)
        except ProviderUnavailable as error:
            log.warning("identity provider unavailable: %s", error.message)
            return _json(503, error)
        return None

    def _unauthorised(self, error: InvalidToken | None) -> Response:
        challenge = f'Bearer realm="{self.realm}"'
        if error is not None:
            challenge += (f', error="{error.code}", '
                          f'error_description="{_UNSAFE.sub("", error.message)}"')
        response = jsonify({"error": error.code if error else "unauthorized",
                            "reason": error.message if error else "A bearer token is needed."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = challenge
        return response


def _json(status: int, error: ClaimsError) -> Response:
    response = jsonify({"error": error.code, "reason": error.message})
    response.status_code = status
    return response


# -- the application's guard ---------------------------------------------------------

def current_guard() -> Guard:
    guard = current_app.extensions.get(EXTENSION)
    if guard is None:
        raise RuntimeError("no claims guard for this app: call Guard(...).init_app(app)")
    return guard


def _deferred(make: Callable[[Guard], Callable]) -> Callable:
    """A decorator whose guard is the current app's, looked up per request."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any):
            return make(current_guard())(view)(*args, **kwargs)
        return guarded
    return decorate


def require_token() -> Callable:
    """Like ``Guard.require_token`` with the guard of ``current_app`` (see init_app)."""
    return _deferred(lambda guard: guard.require_token())


def require_entitlement(*entitlements: Entitlement | str) -> Callable:
    """Like ``Guard.require_entitlement`` with the guard of ``current_app``."""
    return _deferred(lambda guard: guard.require_entitlement(*entitlements))


def require_role(role: Role | str) -> Callable:
    """Like ``Guard.require_role`` with the guard of ``current_app``."""
    wanted = Role(role)
    return _deferred(lambda guard: guard.require_role(wanted))


__all__ = ["EXTENSION", "Guard", "TokenChecker", "current_guard", "require_entitlement",
           "require_role", "require_token"]
