"""PKCE, S256 only, for every client (RFC 7636, RFC 9700 §2.1.1).

Authlib's CodeChallenge accepts ``plain``, lets a request without a challenge
through at the authorization endpoint, and requires the verifier only from
public clients. Here a challenge is required from everyone, only S256 is
accepted, and the comparison is constant-time."""

import hmac

from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge


def _compare_s256(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)


class S256CodeChallenge(CodeChallenge):
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": _compare_s256}

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.",
                                      redirect_uri=redirect_uri)
        # RFC 7636 §4.3: a missing method means "plain", which is refused.
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result=None):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        code = grant.request.authorization_code
        if not code.code_challenge:  # cannot happen: every code has one
            raise InvalidGrantError("This code was issued without PKCE.")
        super().validate_code_verifier(grant, result)
