"""``id_token_hint`` at the authorization endpoint (OIDC Core 3.1.2.1)."""

from __future__ import annotations

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError

from idp.clients.models import ID_TOKEN_ALGORITHMS
from idp.keys import key_store


def id_token_hint_subject(hint: str | None) -> str | None:
    """The ``sub`` of an ID token we issued (expired or not), else None."""
    if not hint or len(hint) > 8192 or hint.count(".") != 2:
        return None
    try:
        token = jwt.decode(hint, key_store(current_app).verification_keys(),
                           algorithms=list(ID_TOKEN_ALGORITHMS))
    except (JoseError, ValueError, TypeError):
        return None
    if token.claims.get("iss") != current_app.config["KEYHOLDER"].ISSUER:
        return None
    sub = token.claims.get("sub")
    return sub if isinstance(sub, str) else None
