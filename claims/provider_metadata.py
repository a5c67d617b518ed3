"""Asking the provider: its metadata (OpenID Connect Discovery 1.0 §4) and JSON
documents in general, with every failure turned into ProviderUnavailable.

Relying parties fail closed: when the provider cannot be asked, or answers
something that is not what the specifications promise, nothing is accepted.
Redirects are not followed (a document must come from the URL the provider
published) and answers are read up to a bound, so a misbehaving server can
neither send us elsewhere nor exhaust our memory.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from claims.errors import ProviderUnavailable

# Seconds, for connecting and for each read (requests has no overall deadline:
# a provider trickling its answer could hold one request longer).
DEFAULT_TIMEOUT = 5.0
MAX_DOCUMENT = 512 * 1024  # bytes; a JWKS of dozens of RSA keys is ~30 KiB
DISCOVERY_PATH = "/.well-known/openid-configuration"


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of client_secret_basic (RFC 6749 §2.3.1:
    each part form-urlencoded first). The secret lives only inside this
    value; keep it out of any repr or log."""
    credentials = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def request_json(http: requests.Session, method: str, url: str, *, what: str,
                 timeout: float, **kwargs: Any) -> tuple[int, Any]:
    """The status and decoded JSON body of one request. Unreachable, too large
    or not JSON → ProviderUnavailable, naming ``what`` was asked (never the body:
    it could echo a token)."""
    try:
        with http.request(method, url, timeout=timeout, allow_redirects=False, stream=True,
                          **kwargs) as response:
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_DOCUMENT:
                    raise ProviderUnavailable(f"The {what} answered a document that is too "
                                              "large.")
            status = response.status_code
    except requests.RequestException as error:
        raise ProviderUnavailable(f"The {what} cannot be reached "
                                  f"({type(error).__name__}).") from error
    if status >= 500 or 300 <= status < 400:
        raise ProviderUnavailable(f"The {what} answered HTTP {status}.")
    try:
        return status, json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ProviderUnavailable(f"The {what} did not answer JSON (HTTP {status}).") from error


def fetch_json(http: requests.Session, url: str, *, what: str, timeout: float) -> dict:
    """GET a JSON object that must be answered with 200."""
    status, document = request_json(http, "GET", url, what=what, timeout=timeout)
    if status != 200:
        raise ProviderUnavailable(f"The {what} answered HTTP {status}.")
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"The {what} is not a JSON object.")
    return document


def provider_metadata(http: requests.Session, issuer: str, *, timeout: float) -> dict:
    """The provider's metadata, after checking that it is for ``issuer``
    (Discovery §4.3: otherwise anyone who can answer that URL could name
    their own keys)."""
    metadata = fetch_json(http, issuer.rstrip("/") + DISCOVERY_PATH,
                          what="provider's discovery document", timeout=timeout)
    if metadata.get("issuer") != issuer:
        raise ProviderUnavailable("The discovery document is for another issuer than the one "
                                  "configured.")
    return metadata


def endpoint(metadata: dict, name: str) -> str:
    """An absolute http(s) URL the metadata names, or ProviderUnavailable."""
    url = metadata.get(name)
    if not isinstance(url, str) or urlsplit(url).scheme not in {"https", "http"} \
            or not urlsplit(url).netloc:
        raise ProviderUnavailable(f"The discovery document has no usable '{name}'.")
    return url


__all__ = ["DEFAULT_TIMEOUT", "endpoint", "fetch_json", "provider_metadata", "request_json"]
