"""What the fast lane answers: the same bodies and headers as the full path.

Token, introspection and UserInfo responses are JSON with ``Cache-Control:
no-store`` and ``Pragma: no-cache`` (RFC 6749 §5.1, Authlib's
``default_json_headers``); discovery and the JWKS are cached for 300 s;
every response has the provider's security headers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from authlib.consts import default_json_headers

from idp.infrastructure.security_headers import HEADERS as SECURITY_HEADERS
from idp.protocol.discovery import CACHE

_PUBLIC = (("Cache-Control", CACHE),)


@dataclass(frozen=True)
class Answer:
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def send(self, start_response) -> list[bytes]:
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(self.body))),
                                  *SECURITY_HEADERS])
        return [self.body]


def json_answer(body: dict) -> Answer:
    """As Authlib's Flask integration writes it (Flask's ``json.dumps``: keys
    sorted, ASCII; the lane's bodies hold only strings, numbers, booleans and
    lists of them)."""
    return Answer(json.dumps(body, sort_keys=True).encode(), tuple(default_json_headers))


def published(body: bytes, content_type: str) -> Answer:
    """Discovery and the JWKS."""
    return Answer(body, (("Content-Type", content_type), *_PUBLIC))
