"""The services as receivers of the provider's security events (OpenID Shared
Signals 1.0, CAEP 1.0; docs/security-events.md), with the ``claims`` toolkit
only: each service's stream pushes to ``POST /security-events`` (RFC 8935),
which takes a SET only with the stream's ``authorization_header``, verifies
it (:class:`claims.SecurityEventVerifier`: the provider's key, ``typ``,
``iss``, ``aud`` this client...) and acts on each ``jti`` once
(:class:`claims.Receiver`).

What a web service does (:func:`web_receiver`), for the sessions of its
:class:`services.rp_session.SessionStore`:

- ``token-claims-change`` about person S of customer number T: the sessions
  of S for T whose claims are not newer than the event are marked stale. At
  its next request a stale session refreshes its tokens with the refresh
  token kept at sign-in, verifies the new ID token
  (:meth:`services.oidc_client.ProviderClient.verify_refreshed_id_token`)
  and takes its identity, so the page follows the new role and
  entitlements without a new sign-in (:func:`refresh_if_stale`). A refresh
  the provider refuses (the tokens revoked, the membership removed) ends the
  session: the person is asked to sign in again. The provider unreachable:
  the request is refused (503) and the session stays stale.
- ``session-revoked``: the sessions of the provider session it names (the
  subject's ``session``) end; without one, every session of the person
  signed in before the event.

The Usage API forgets its cached introspection answers about the person
on both (:func:`forgetting_receiver`); the TV has its own handlers
(:mod:`services.tv`)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

from flask import Flask, Response, request, session, url_for
from flask_babel import gettext as _

from claims import Introspector, Receiver, SecurityEvent, SecurityEventVerifier
from claims.errors import InvalidToken, ProviderUnavailable
from claims.security_event_types import SESSION_REVOKED, TOKEN_CLAIMS_CHANGE
from claims.set_push import push_endpoint
from services.oidc_client import SignInFailed
from services.reasons import shown_title
from services.refusals import message_page
from services.relying_party import ID_TOKEN, IDENTITY, REFRESH_TOKEN, SIGN_IN, WebRelyingParty
from services.rp_session import (
    CLAIMS_AS_OF,
    CUSTOMER_NUMBER,
    ServerSession,
    SessionStore,
)

PATH = "/security-events"
ENDPOINT = "security_events"  # the Flask endpoint of the push view
log = logging.getLogger("services.security_events")
# The session keys a refresh replaces.
REFRESHED = (IDENTITY, ID_TOKEN, REFRESH_TOKEN, CUSTOMER_NUMBER, CLAIMS_AS_OF)


def receiver_for(issuer: str, client_id: str, **options) -> Receiver:
    """A receiver of the SETs of ``issuer`` for the client ``client_id``
    (``options``: those of :class:`claims.SecurityEventVerifier`)."""
    return Receiver(SecurityEventVerifier(issuer, audience=client_id, **options))


def install(app: Flask, receiver: Receiver, authorization: str) -> Callable[[], Response]:
    """``POST /security-events`` for ``receiver``, taking SETs only with the
    stream's ``authorization`` header; returns the view (to exempt it from
    CSRF checks: the provider's server calls it, not a browser)."""
    view = push_endpoint(receiver, authorization=authorization)
    app.add_url_rule(PATH, endpoint=ENDPOINT, view_func=view, methods=["POST"])
    return view


# -- the web services ----------------------------------------------------------------------

def web_receiver(issuer: str, client_id: str, sessions: SessionStore, **options) -> Receiver:
    receiver = receiver_for(issuer, client_id, **options)

    def claims_changed(event: SecurityEvent) -> None:
        if event.user is None:  # not about a person of our provider
            return
        marked = sessions.mark_stale(subject=event.user, customer_number=event.tenant,
                                     as_of=event.issued_at)
        log.info("claims change: %d session(s) to refresh", marked)

    def session_revoked(event: SecurityEvent) -> None:
        if event.user is None and event.session is None:
            return
        ended = sessions.end(sid=event.session, subject=event.user,
                             signed_in_by=event.issued_at)
        log.info("session revoked: %d session(s) ended", ended)

    receiver.on(TOKEN_CLAIMS_CHANGE, claims_changed)
    receiver.on(SESSION_REVOKED, session_revoked)
    return receiver


class SessionRefresher:
    """Refreshes the stale sessions of one web service, one refresh at a time
    per session: a refresh token is used once (rotation), and two requests
    refreshing with it would make the provider revoke the whole family."""

    STRIPES = 64

    def __init__(self, rp: WebRelyingParty) -> None:
        self.rp = rp
        self._locks = [threading.Lock() for _ in range(self.STRIPES)]

    def _lock(self, cookie_value: str) -> threading.Lock:
        digest = hashlib.sha256(cookie_value.encode("utf-8", "surrogatepass")).digest()
        return self._locks[digest[0] % self.STRIPES]

    def refresh_if_stale(self) -> Response | tuple | None:
        """Before a request of a session marked stale: refresh it (None: go
        on), or answer (the session ended, or the provider cannot be asked)."""
        current = session._get_current_object()  # type: ignore[attr-defined]
        if not isinstance(current, ServerSession) or current.stale is None \
                or current.cookie_value is None:
            return None
        store, value = self.rp.sessions, current.cookie_value
        with self._lock(value):
            opened = store.open(value)
            if opened is None:  # ended meanwhile (a logout)
                return self._ended(current)
            if opened.stale is None:  # another request refreshed it meanwhile
                current.update({name: opened.data[name] for name in REFRESHED
                                if name in opened.data})
                current.generation, current.stale = opened.generation, None
                return None
            data, mark = opened.data, opened.stale
            provider = self.rp.provider
            try:
                tokens = provider.refresh(data.get(REFRESH_TOKEN))
                identity = provider.verify_refreshed_id_token(tokens["id_token"],
                                                              data.get(SIGN_IN) or {})
            except ProviderUnavailable as error:
                log.warning("session not refreshed, the provider is unavailable: %s",
                            error.message)
                return message_page(
                    _("Your access cannot be checked right now"), _(
                        "Your role or access changed, and our login service cannot be asked "
                        "about it now. Please try again in a moment."), status=503,
                    link=request.full_path if request.query_string else request.path,
                    link_label=_("Try again"), detail=_("Code for our helpdesk: %(code)s",
                                                        code=error.code))
            except (SignInFailed, InvalidToken) as error:
                log.info("session not refreshed, it ends: %s", type(error).__name__)
                store.delete(value)  # at once: a request waiting for the lock finds it gone
                return self._ended(current)
            changes = {IDENTITY: identity, ID_TOKEN: tokens["id_token"],
                       REFRESH_TOKEN: tokens.get("refresh_token") or data.get(REFRESH_TOKEN),
                       CUSTOMER_NUMBER: identity.customer_number,
                       CLAIMS_AS_OF: identity.claims.get("iat")}
            generation = store.refreshed(value, changes, mark=mark)
            if generation is None:  # ended while the provider was asked
                return self._ended(current)
            current.update(changes)
            current.generation, current.stale = generation, None
        return None

    def _ended(self, current: ServerSession):
        current.end()
        return message_page(
            _("Please sign in again"), _("Your access to %(service)s changed, and your session "
                                         "could not be renewed. Please sign in again.",
                                         service=shown_title(self.rp.config.title)),
            status=401,
            link=url_for("rp.login", next=request.path if request.method == "GET" else None),
            link_label=_("Sign in"))


# -- the Usage API -------------------------------------------------------------------------

def forgetting_receiver(issuer: str, client_id: str, introspector: Introspector,
                        **options) -> Receiver:
    """A receiver that makes ``introspector`` forget what it cached about the
    person of a ``token-claims-change`` or a ``session-revoked``: their next
    request asks the provider again."""
    receiver = receiver_for(issuer, client_id, **options)

    def forget(event: SecurityEvent) -> None:
        if event.user is not None:
            log.info("security event: %d cached answer(s) forgotten",
                     introspector.forget(event.user))

    receiver.on(TOKEN_CLAIMS_CHANGE, forget)
    receiver.on(SESSION_REVOKED, forget)
    return receiver


__all__ = ["ENDPOINT", "PATH", "SessionRefresher", "forgetting_receiver", "install",
           "receiver_for", "web_receiver"]
