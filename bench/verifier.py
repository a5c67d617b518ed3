"""Access-token verification rate: PyJWT, joserfc and claims.TokenVerifier, same tokens.

    .venv/bin/python bench/verifier.py [--iterations 20000] [--rounds 5]

Mints one RS256 (2048-bit) and one ES256 RFC 9068 access token once, then
verifies each token ``--iterations`` times per library, in ``--rounds``
interleaved rounds (so a slow moment of the machine hits every library
alike); the rate shown is the median round's. Everyone does the same work:
signature, ``iss``, ``aud`` and ``exp`` checks, with keys prepared beforehand
(PyJWT a PyJWK, joserfc an imported key plus its claims registry,
TokenVerifier its JWKS fetched from a loopback ``http.server`` and warm).
Nothing leaves 127.0.0.1. Prints a Markdown table and ours / PyJWT for RS256.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cryptography
import joserfc
import jwt as pyjwt
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from claims import TokenVerifier

AUDIENCE = "https://usage.example/api"


def serve_keys(keys: list) -> tuple[ThreadingHTTPServer, str]:
    """Discovery and JWKS on loopback, as the provider publishes them."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    documents = {
        "/.well-known/openid-configuration": {"issuer": url, "jwks_uri": f"{url}/jwks.json"},
        "/jwks.json": {"keys": [key.as_dict(private=False) for key in keys]},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(documents.get(self.path, {})).encode()
            self.send_response(200 if self.path in documents else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url


def mint(key, alg: str, issuer: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": "person-mary", "aud": [AUDIENCE], "client_id": "cloud",
              "iat": now, "exp": now + 3600, "jti": "family.random",
              "scope": "openid customer phone", "customer_number": "123456789",
              "role": "user", "customer_type": "business",
              "entitlements": ["usage:own_mobile", "options:activate_free:own_mobile"],
              "phone_number": "+32470000002"}
    return jose_jwt.encode({"alg": alg, "kid": key.kid, "typ": "at+jwt"}, claims, key,
                           algorithms=[alg])


def contenders(key, alg: str, issuer: str, ours: TokenVerifier) -> dict[str, Callable]:
    pyjwk = pyjwt.PyJWK(key.as_dict(private=False))
    public = type(key).import_key(key.as_dict(private=False))
    registry = JWTClaimsRegistry(iss={"essential": True, "value": issuer},
                                 aud={"essential": True, "value": AUDIENCE},
                                 exp={"essential": True})

    def with_pyjwt(token: str) -> str:
        return pyjwt.decode(token, pyjwk, algorithms=[alg], audience=AUDIENCE,
                            issuer=issuer)["sub"]

    def with_joserfc(token: str) -> str:
        decoded = jose_jwt.decode(token, public, algorithms=[alg])
        registry.validate(decoded.claims)
        return decoded.claims["sub"]

    def with_ours(token: str) -> str:
        return ours.verify_access_token(token).subject

    return {"PyJWT": with_pyjwt, "joserfc": with_joserfc, "TokenVerifier": with_ours}


def rate(verify: Callable[[str], str], token: str, iterations: int) -> float:
    started = time.perf_counter()
    for _ in range(iterations):
        verify(token)
    return iterations / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not 0 < args.iterations <= 1_000_000 or not 0 < args.rounds <= 50:
        parser.error("iterations must be in 1..1000000 and rounds in 1..50")

    keys = {"RS256": RSAKey.generate_key(2048, {"kid": "rsa-1"}, private=True),
            "ES256": ECKey.generate_key("P-256", {"kid": "ec-1"}, private=True)}
    server, issuer = serve_keys(list(keys.values()))
    ours = TokenVerifier(issuer, audience=AUDIENCE)
    per_round = max(1, args.iterations // args.rounds)
    rows = {}
    try:
        for alg, key in keys.items():
            token = mint(key, alg, issuer)
            libraries = contenders(key, alg, issuer, ours)
            for verify in libraries.values():  # all agree, and warm (our JWKS fetched)
                assert verify(token) == "person-mary"
            rounds: dict[str, list[float]] = {name: [] for name in libraries}
            for _ in range(args.rounds):
                for name, verify in libraries.items():
                    rounds[name].append(rate(verify, token, per_round))
            rows[alg] = {name: statistics.median(rates) for name, rates in rounds.items()}
    finally:
        server.shutdown()

    print(f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
          f"PyJWT {pyjwt.__version__}, joserfc {joserfc.__version__}; "
          f"{per_round * args.rounds} verifications per library and algorithm "
          f"({args.rounds} rounds, median).\n")
    print("| algorithm | PyJWT /s | joserfc /s | TokenVerifier /s | ours / PyJWT |")
    print("|---|---:|---:|---:|---:|")
    for alg, row in rows.items():
        print(f"| {alg} | {row['PyJWT']:,.0f} | {row['joserfc']:,.0f} | "
              f"{row['TokenVerifier']:,.0f} | {row['TokenVerifier'] / row['PyJWT']:.2f}x |")
    ratio = rows["RS256"]["TokenVerifier"] / rows["RS256"]["PyJWT"]
    print(f"\nRS256: TokenVerifier / PyJWT = {ratio:.2f} (target: at least 2)")


if __name__ == "__main__":
    main()
