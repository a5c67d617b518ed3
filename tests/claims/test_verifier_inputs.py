"""TokenVerifier on broken input and on ID tokens ("Bad input is refused, never a
500" and "Explicit token types" in docs/security.md): each is refused with its
own error class. The forgeries are in test_verifier.py."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from claims import (
    BadSignature,
    MalformedToken,
    TokenVerifier,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    WrongTokenType,
)
from claims.vocabulary import Role
from tests.claims.provider_double import AUDIENCE, CLIENT_ID, SUBJECT, Minter, b64, header_of

# -- broken tokens -----------------------------------------------------------------------

GOOD_HEADER = b64(json.dumps({"alg": "ES256", "kid": "ec-1", "typ": "at+jwt"}).encode())


@pytest.mark.parametrize("token", [
    "", "garbage", "a.b", "a.b.c.d", "a.b.c.d.e", "...",
    f"{GOOD_HEADER}.e30.e30.e30",
    "@@@.e30.e30", "e30=.e30.e30", "e3 0.e30.e30", "ZTMw\n.e30.e30", "e3é.e30.e30",
    "eyJ.e30.e30",  # a length no base64 has
    b64(b"not json") + ".e30.e30",
    b64(b"[1, 2]") + ".e30.e30",
    b64(b'{"alg": "ES256", "alg": "none", "kid": "ec-1"}') + ".e30.e30",
    b64(b'{"alg": NaN, "kid": "ec-1"}') + ".e30.e30",
    b64(b"\xff\xfe{}") + ".e30.e30",
    b64(b"[" * 5000) + ".e30.e30",
    b64(json.dumps({"kid": "ec-1", "typ": "at+jwt"}).encode()) + ".e30.e30",
    b64(json.dumps({"alg": "ES256", "typ": "at+jwt"}).encode()) + ".e30.e30",
    b64(json.dumps({"alg": "ES256", "kid": 7, "typ": "at+jwt"}).encode()) + ".e30.e30",
    f"{GOOD_HEADER}.e30.{'A' * 9000}",
], ids=lambda token: repr(token[:24]))
def test_garbage_is_malformed(verifier, token):
    with pytest.raises(MalformedToken):
        verifier.verify_access_token(token)


@pytest.mark.parametrize("token", [None, b"a.b.c", 42])
def test_what_is_not_text_is_malformed(verifier, token):
    with pytest.raises(MalformedToken):
        verifier.verify_access_token(token)


def test_a_signed_payload_that_is_not_json(verifier, keys):
    token = Minter.forge(header_of(keys.ec), b"not json at all", keys.ec)
    with pytest.raises(MalformedToken):
        verifier.verify_access_token(token)


def test_a_non_canonical_base64_spelling_is_refused(verifier, minter, keys):
    header, payload, signature = minter.access(keys.ec).split(".")
    # 64 bytes → 86 characters; the last carries 4 unused bits, which must be zero.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
    with pytest.raises(MalformedToken):
        verifier.verify_access_token(f"{header}.{payload}.{twin}")


def test_a_tampered_payload(verifier, minter, key):
    header, _, signature = minter.access(key).split(".")
    promoted = b64(json.dumps(minter.claims(role="administrator")).encode())
    with pytest.raises(BadSignature):
        verifier.verify_access_token(f"{header}.{promoted}.{signature}")


def test_signatures_of_the_wrong_shape(verifier, minter, keys):
    header, payload, signature = minter.access(keys.ec).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    for wrong in (b"", raw[:60], raw + b"\0", bytes(64)):  # bytes(64): r = s = 0
        with pytest.raises(BadSignature):
            verifier.verify_access_token(f"{header}.{payload}.{b64(wrong)}")
    # The DER form cryptography produces is not the JWS form (raw r || s).
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    with pytest.raises(BadSignature):
        verifier.verify_access_token(f"{header}.{payload}.{b64(der)}")


def test_messages_never_quote_the_token(verifier, minter, keys):
    token = minter.access(keys.ec, iss="https://attacker.example/\"quoted\"")
    with pytest.raises(WrongIssuer) as refused:
        verifier.verify_access_token(token)
    assert "attacker" not in str(refused.value) and refused.value.code == "invalid_token"


# -- ID tokens ------------------------------------------------------------------------------

def id_token(minter, key, **overrides) -> str:
    return minter.access(key, typ="JWT", aud=[CLIENT_ID], client_id=None, nonce="n-0S6",
                         **overrides)


def test_an_id_token_for_a_web_client(verifier, minter, key):
    identity = verifier.verify_id_token(id_token(minter, key), client_id=CLIENT_ID,
                                        nonce="n-0S6")
    assert identity.subject == SUBJECT and identity.client_id == CLIENT_ID
    assert identity.role is Role.USER
    # Without typ is fine too (OIDC Core does not require it), and without nonce
    # when the caller does not check one.
    untyped = minter.access(key, typ=None, aud=CLIENT_ID, client_id=None)
    assert verifier.verify_id_token(untyped, client_id=CLIENT_ID).subject == SUBJECT


@pytest.mark.parametrize(("token_kwargs", "check_kwargs", "error"), [
    ({}, {"nonce": "another"}, WrongNonce),
    ({"nonce": None}, {"nonce": "n-0S6"}, WrongNonce),
    ({}, {"client_id": "foot11"}, WrongAudience),
    ({"aud": [CLIENT_ID, "foot11"], "azp": "foot11"}, {}, WrongAudience),
    ({"typ": "at+jwt"}, {}, WrongTokenType),
    ({"typ": "logout+jwt"}, {}, WrongTokenType),
    ({"iat": None}, {}, MalformedToken),
    ({"iss": "https://attacker.example"}, {}, WrongIssuer),
])
def test_id_tokens_that_are_refused(verifier, minter, keys, token_kwargs, check_kwargs, error):
    kwargs = {"client_id": CLIENT_ID, "nonce": "n-0S6", **check_kwargs}
    typ = token_kwargs.pop("typ", "JWT")
    token = minter.access(keys.rsa, typ=typ, **{"aud": [CLIENT_ID], "client_id": None,
                                                "nonce": "n-0S6", **token_kwargs})
    with pytest.raises(error):
        verifier.verify_id_token(token, **kwargs)


def test_configuration_is_checked_at_start_up(provider_double):
    with pytest.raises(ValueError):
        TokenVerifier("", audience=AUDIENCE)
    with pytest.raises(ValueError):
        TokenVerifier(provider_double.url, audience="")
    with pytest.raises(ValueError):
        TokenVerifier(provider_double.url, audience=AUDIENCE, leeway=-1)
    assert repr(TokenVerifier(provider_double.url, audience=AUDIENCE)).startswith(
        "TokenVerifier(")
