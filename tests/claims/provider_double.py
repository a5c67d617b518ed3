"""A provider's public face on loopback, for the relying-party toolkit's tests:
discovery, JWKS and introspection served by ``http.server`` from what the test
sets, every request recorded. Tokens are minted with joserfc (an independent
implementation) or, for forgeries joserfc would refuse to write, signed by
hand with ``cryptography``."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

AUDIENCE = "https://usage.example/api"
CLIENT_ID = "cloud"
SUBJECT = "person-mary"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_of(key: RSAKey | ECKey) -> str:
    return "RS256" if isinstance(key, RSAKey) else "ES256"


def public(key: RSAKey | ECKey, **members: Any) -> dict:
    return {**key.as_dict(private=False), **members}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ProviderDouble:
    """Set ``jwks``, ``discovery`` or ``introspection`` (status, JSON-able or
    bytes) to change what it answers; ``hits`` counts requests by path."""

    jwks: Any = field(default_factory=lambda: {"keys": []})
    jwks_status: int = 200
    discovery: Any = None  # None: a correct document for this server
    introspection: tuple[int, Any] = (200, {"active": False})
    hits: Counter = field(default_factory=Counter)
    recorded: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def publish(self, *keys: RSAKey | ECKey, **members: Any) -> None:
        self.jwks = {"keys": [public(key, **members) for key in keys]}

    def stop(self) -> None:
        """Down: connections are refused from now on."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def metadata(self) -> dict:
        return {"issuer": self.url, "jwks_uri": f"{self.url}/jwks.json",
                "introspection_endpoint": f"{self.url}/introspect"}

    def answer(self, path: str) -> tuple[int, Any]:
        if path == "/.well-known/openid-configuration":
            return 200, self.metadata() if self.discovery is None else self.discovery
        if path == "/jwks.json":
            return self.jwks_status, self.jwks
        if path == "/introspect":
            return self.introspection
        return 404, {"error": "not_found"}

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                double.hits[path] += 1
                double.recorded.append(Recorded(self.command, path, dict(self.headers), body))
                status, content = double.answer(path)
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

        return Handler


class FakeClock:
    def __init__(self, now: float | None = None) -> None:
        self.now = float(int(time.time()) if now is None else now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Minter:
    issuer: str
    clock: FakeClock

    def claims(self, **overrides: Any) -> dict:
        """Access-token claims of Mary (a user of a business customer);
        an override of None removes the claim."""
        now = int(self.clock())
        claims = {"iss": self.issuer, "sub": SUBJECT, "aud": [AUDIENCE], "client_id": CLIENT_ID,
                  "iat": now, "exp": now + 300, "jti": "family.random",
                  "scope": "openid customer phone", "customer_number": "123456789",
                  "role": "user", "customer_type": "business",
                  "entitlements": ["usage:own_mobile", "options:activate_free:own_mobile"],
                  "phone_number": "+32470000002"}
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def access(self, key: RSAKey | ECKey, *, typ: str | None = "at+jwt",
               **overrides: Any) -> str:
        """A genuine token, signed by joserfc (``typ=None``: without one; joserfc
        would write ``typ: JWT``)."""
        header = {"alg": alg_of(key), "kid": key.kid}
        if typ is not None:
            header["typ"] = typ
        return jwt.encode(header, self.claims(**overrides), key, algorithms=[alg_of(key)],
                          default_type=None)

    @staticmethod
    def forge(header: dict, payload: dict | bytes, key: RSAKey | ECKey) -> str:
        """Sign anything, headers joserfc would refuse included."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}".encode()
        private = key.private_key
        if isinstance(private, rsa.RSAPrivateKey):
            signature = private.sign(signing_input, padding.PKCS1v15(), SHA256())
        else:
            r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(SHA256())))
            signature = r.to_bytes(32) + s.to_bytes(32)
        return f"{signing_input.decode()}.{b64(signature)}"


@dataclass(frozen=True)
class Keys:
    rsa: RSAKey
    ec: ECKey
    ec_next: ECKey  # the next key of a rotation
    attacker: ECKey  # never published

    @classmethod
    def generate(cls) -> Keys:
        return cls(RSAKey.generate_key(2048, {"kid": "rsa-1"}, private=True),
                   ECKey.generate_key("P-256", {"kid": "ec-1"}, private=True),
                   ECKey.generate_key("P-256", {"kid": "ec-2"}, private=True),
                   ECKey.generate_key("P-256", {"kid": "attacker"}, private=True))


def header_of(key, **members) -> dict:
    """The header of an access token signed with ``key``."""
    return {"alg": alg_of(key), "kid": key.kid, "typ": "at+jwt", **members}
