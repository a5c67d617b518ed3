"""Resource indicators (RFC 8707): a client names the API a token is for.

A resource is the ``resource_uri`` of a registered service client. Asked at
the authorization endpoint (or the device endpoint), the resources stay with
the authorization and its token family; each token request may narrow them.
A token for resources has them as its ``aud`` (RFC 9068 §3), so those
services may introspect it; a token for no resource is for the provider's
UserInfo endpoint only."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import current_app

from idp.clients import registry

PARAMETER = "resource"


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the resource is unknown, invalid or not allowed."""

    error = "invalid_target"
    status_code = 400


def is_known(uri: str) -> bool:
    """Whether a service registered ``uri`` (the client cache's answer, as the
    fast lane gets it)."""
    return registry.cache(current_app).is_known_resource(current_app, uri)


def well_formed(uri: str) -> bool:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(uri)
    return bool(parts.scheme and parts.netloc) and not parts.fragment and "#" not in uri


def requested(values: list[str], *, allowed: list[str] | None = None, redirect_uri=None,
              state=None) -> list[str]:
    """The resources of a request, each checked: an absolute URI without a
    fragment, registered by a service, and (``allowed``) granted before."""
    uris = list(dict.fromkeys(values))
    for uri in uris:
        if not well_formed(uri):
            raise InvalidTargetError("'resource' must be an absolute URI without a fragment.",
                                     redirect_uri=redirect_uri, state=state)
    if allowed is not None:
        if not set(uris) <= set(allowed):
            raise InvalidTargetError("A 'resource' was not granted to this authorization.",
                                     redirect_uri=redirect_uri, state=state)
    elif not all(is_known(uri) for uri in uris):
        raise InvalidTargetError("A 'resource' is not known here.", redirect_uri=redirect_uri,
                                 state=state)
    return uris
