"""Key material: generating signing keys, encrypting them at rest, and the
joserfc keys and public JWKs made from them. Nothing here logs or prints a
private key or the passphrase."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)
from joserfc.jwk import ECKey, RSAKey, thumbprint

from idp.keys.errors import KeyStoreError

ALGORITHMS = ("RS256", "ES256")

# RSA 2048 is the size RFC 7518 §3.3 requires and every relying party
# accepts (NIST counts it sound until 2030). Our keys sign for one rotation
# period; 3072 bits would make generation about 5x and every signature about
# 3x slower for a margin such short-lived keys do not need. ES256 is preferred.
RSA_BITS = 2048

# The members of a public JWK (RFC 7518 §6.2.1, §6.3.1), and nothing else: a
# file altered to carry "d" must not get a private member into the JWKS.
PUBLIC_MEMBERS = {"RS256": frozenset({"kty", "n", "e"}),
                  "ES256": frozenset({"kty", "crv", "x", "y"})}
_KTY = {"RS256": "RSA", "ES256": "EC"}
PEM_HEADER = "-----BEGIN ENCRYPTED PRIVATE KEY-----"

JoseKey = RSAKey | ECKey


def check_algorithm(alg: str) -> str:
    if alg not in ALGORITHMS:
        raise KeyStoreError(f"unsupported signing algorithm {alg!r}: "
                            f"expected one of {', '.join(ALGORITHMS)}")
    return alg


def generate(alg: str) -> JoseKey:
    """A new private key for ``alg``, without kid (see :func:`signing_form`)."""
    if check_algorithm(alg) == "RS256":
        return RSAKey.generate_key(RSA_BITS, private=True)
    return ECKey.generate_key("P-256", private=True)


def public_jwk(alg: str, key: JoseKey) -> dict[str, str]:
    return {name: value for name, value in key.as_dict(private=False).items()
            if name in PUBLIC_MEMBERS[alg]}


def kid_of(public: dict[str, str]) -> str:
    """The RFC 7638 thumbprint: anyone can recompute it from the JWKS, and a
    key can never be published under two kids."""
    return thumbprint(public)


def encrypt(key: JoseKey, passphrase: bytes) -> str:
    """PKCS#8 PEM under cryptography's best available encryption (PBES2:
    PBKDF2-HMAC-SHA256 and AES-256-CBC). Its PBKDF2 count is low (2048), which
    is sound only because KEYHOLDER_KEYS_PASSPHRASE is 32+ random characters."""
    pem = key.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                        BestAvailableEncryption(passphrase))
    return pem.decode("ascii")


def decrypt(alg: str, kid: str, pem: str, passphrase: bytes, where: object) -> JoseKey:
    """The private signing key named ``kid``, with kid, alg and use set.
    ``where`` (the file) names a corrupt key in the error."""
    if not pem.startswith(PEM_HEADER):
        raise KeyStoreError(f"corrupt key file {where}: the private key is not an "
                            "encrypted PKCS#8 PEM")
    try:
        raw = load_pem_private_key(pem.encode("ascii"), passphrase)
    except (TypeError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise KeyStoreError(f"corrupt key file {where}: the private key cannot be read "
                            "as an encrypted PKCS#8 PEM") from None
    except ValueError:
        # Also what a damaged body gives: without a MAC, CBC cannot tell it apart.
        raise KeyStoreError(f"cannot decrypt signing key {kid}: "
                            "is KEYHOLDER_KEYS_PASSPHRASE right?") from None
    if alg == "RS256" and isinstance(raw, rsa.RSAPrivateKey) and raw.key_size >= RSA_BITS:
        key: JoseKey = RSAKey.import_key(raw, _parameters(alg, kid))
    elif alg == "ES256" and isinstance(raw, ec.EllipticCurvePrivateKey) \
            and isinstance(raw.curve, ec.SECP256R1):
        key = ECKey.import_key(raw, _parameters(alg, kid))
    else:
        raise KeyStoreError(f"corrupt key file {where}: the private key is not an {alg} key")
    if kid_of(public_jwk(alg, key)) != kid:
        raise KeyStoreError(f"corrupt key file {where}: the private key is not key {kid}")
    return key


def signing_form(alg: str, kid: str, key: JoseKey) -> JoseKey:
    """A freshly generated ``key`` as :func:`decrypt` returns it."""
    if alg == "RS256":
        return RSAKey.import_key(key.private_key, _parameters(alg, kid))
    return ECKey.import_key(key.private_key, _parameters(alg, kid))


def public_key(alg: str, kid: str, public: dict[str, str]) -> JoseKey:
    """The verification key for a checked public JWK (see :func:`public_problem`)."""
    cls = RSAKey if alg == "RS256" else ECKey
    return cls.import_key({**public, **_parameters(alg, kid)})


def public_problem(alg: str, kid: str, public: object) -> str | None:
    """Why ``public`` is not the public JWK of key ``kid`` for ``alg``, or None."""
    if not isinstance(public, dict) or set(public) != PUBLIC_MEMBERS[alg] \
            or not all(isinstance(value, str) for value in public.values()):
        return f"the public key must have exactly the members {sorted(PUBLIC_MEMBERS[alg])}"
    if public["kty"] != _KTY[alg] or (alg == "ES256" and public["crv"] != "P-256"):
        return f"the public key is not an {alg} key"
    if alg == "RS256" and _bits(public["n"]) < RSA_BITS:
        return f"the RSA modulus is shorter than {RSA_BITS} bits"
    if kid_of(public) != kid:
        return "the public key's thumbprint is not its kid"
    return None


def _bits(value: str) -> int:
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))\
            .bit_length()
    except (binascii.Error, ValueError):
        return 0


def _parameters(alg: str, kid: str) -> dict[str, str]:
    # The kid is set so that signing code names the key in the header: given a
    # KeySet and no kid, joserfc would pick a random key.
    return {"kid": kid, "alg": alg, "use": "sig"}
