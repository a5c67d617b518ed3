"""A request as the fast lane reads it: the form body (buffered, so the full
path can read it again), the client's credentials, and the edge's rules.

The lane takes only requests that are plainly well-formed; anything unusual
(another content type, a repeated parameter, a control character, a body
larger than the app accepts, two ways of authenticating at once) is left to
the full path, which answers it as it always has."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from authlib.oauth2.rfc6749.util import extract_basic_authorization

from idp.infrastructure.edge import has_control

MAX_BODY = 64 * 1024  # the app's MAX_CONTENT_LENGTH
FORM = "application/x-www-form-urlencoded"
REPEATABLE = frozenset({"resource"})  # RFC 8707 §2: one per resource


@dataclass
class LaneRequest:
    environ: dict
    form: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        values = self.form.get(name)
        return None if values is None else values[0]

    def only(self, names: frozenset[str]) -> bool:
        """Whether the form has no parameter but these."""
        return self.form.keys() <= names

    def credentials(self) -> tuple[str, str, str] | None:
        """(method, client_id, secret) of a client authenticating in exactly
        one way (RFC 6749 §2.3.1: "MUST NOT use more than one")."""
        basic = None
        if "HTTP_AUTHORIZATION" in self.environ:
            try:
                basic = extract_basic_authorization(
                    {"Authorization": self.environ["HTTP_AUTHORIZATION"]})
            except (UnicodeDecodeError, ValueError):
                return None
            if not all(basic) or has_control([*basic, *(unquote(part) for part in basic)]):
                return None
        posted = (self.one("client_id"), self.one("client_secret"))
        if basic is not None:
            return None if any(posted) else ("client_secret_basic", *basic)
        return ("client_secret_post", *posted) if all(posted) else None


def read(environ: dict) -> LaneRequest | None:
    """The request, or None to leave it to the full path. The body is put back."""
    length = environ.get("CONTENT_LENGTH") or ""
    if not length:
        return LaneRequest(environ, {}) if "HTTP_TRANSFER_ENCODING" not in environ else None
    if not length.isdigit() or int(length) > MAX_BODY:
        return None
    content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    body = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    if content_type != FORM or len(body) != int(length):
        return None
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                          errors="strict", max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        if not value or has_control((name, value)) or (name in form and name not in REPEATABLE):
            return None
        form.setdefault(name, []).append(value)
    return LaneRequest(environ, form)
