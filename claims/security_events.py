"""Receiving the provider's Security Event Tokens (RFC 8417, profiled by the
OpenID Shared Signals Framework 1.0; the events of CAEP 1.0).

    verifier = SecurityEventVerifier("https://id.example", audience="cloud")
    receiver = Receiver(verifier)
    receiver.on(TOKEN_CLAIMS_CHANGE, lambda event: introspector.forget(event.user))
    receiver.receive(token)   # the SecurityEvent; None for a repeat; or SetRejected

The SETs arrive by push (RFC 8935, :mod:`claims.set_push`) or by poll
(RFC 8936, :mod:`claims.set_poll`); both hand each one to a
:class:`Receiver`, which verifies it, drops a repeat and calls the handlers.

What :class:`SecurityEventVerifier` refuses, on top of what every signed
token is refused for (:class:`claims.signed_tokens.SignedTokenVerifier`:
header, signature, ``iss``, ``aud``, ``iat`` and ``nbf``):
- a ``typ`` other than ``secevent+jwt`` (SSF "Explicit Typing of SETs"),
  and an ``exp``, a ``sub`` ("SSF Event Subject", "The exp Claim") or a
  ``nonce``: together they keep the provider's other JWTs (ID, access and
  logout tokens, which all carry ``exp``) from being taken for a SET
  (RFC 8417 §4) → WrongTokenType; so does the lack of an ``events`` object;
- no ``iat``, no ``jti``, not exactly one event whose value is an object
  (SSF "The events claim"), a ``sub_id`` that is not a subject identifier,
  a ``txn`` that is not a string → MalformedToken.

Every refusal reaches the transmitter as :class:`SetRejected`, with the
RFC 8935 §2.3 code for its class. ProviderUnavailable (the keys cannot be
fetched) is not a refusal: the SET was not checked, and must come again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claims.errors import (
    BadSignature,
    DisallowedAlgorithm,
    InvalidToken,
    MalformedToken,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from claims.identity import ReadOnlyClaims, audience_of
from claims.security_event_types import (
    INVALID_AUDIENCE,
    INVALID_ISSUER,
    INVALID_KEY,
    INVALID_REQUEST,
    SET_MEDIA_TYPE,
    SET_TYPE,
    STREAM_EVENTS,
    TOKEN_CLAIMS_CHANGE,
)
from claims.signed_tokens import SignedTokenVerifier, TokenType

SECURITY_EVENT_TOKEN = TokenType(
    frozenset({SET_TYPE, SET_MEDIA_TYPE}), required=True,
    refusal="Only a Security Event Token (typ secevent+jwt) is accepted here.")
# Claims a SET never has, each the mark of another kind of JWT.
_FOREIGN_CLAIMS = (
    ("exp", "A Security Event Token never expires: a token with 'exp' is another kind."),
    ("sub", "A Security Event Token names its subject in 'sub_id', never in 'sub'."),
    ("nonce", "A Security Event Token never carries a nonce."),
)
_NO_CLAIMS = ReadOnlyClaims({})


@dataclass(frozen=True)
class SecurityEvent:
    """One verified event. ``type`` is its URI, ``body`` the event object and
    ``subject`` the raw ``sub_id``, both read-only all the way down (arrays
    come out as tuples): several handlers see the same event. The properties
    read the subjects the provider sends; each is None when it is absent."""

    jti: str
    type: str
    body: Mapping[str, Any]
    issued_at: float
    txn: str | None
    subject: Mapping[str, Any]
    issuer: str  # the properties take only a person of this issuer

    @property
    def user(self) -> str | None:
        """The person's ``sub``: an ``iss_sub`` subject of our issuer, alone or
        as the ``user`` of a complex subject."""
        person = self._member("user") if self._complex else self.subject
        if not _has_format(person, "iss_sub") or person.get("iss") != self.issuer:
            return None
        return _text(person.get("sub"))

    @property
    def tenant(self) -> str | None:
        """The customer number, the opaque ``tenant`` of a complex subject."""
        return self._opaque(self._member("tenant"))

    @property
    def session(self) -> str | None:
        """The provider session (its ``sid``), the opaque ``session`` of a complex subject."""
        return self._opaque(self._member("session"))

    @property
    def stream_id(self) -> str | None:
        """The stream a verification or stream-updated event is about (SSF
        §8.1.4.1, §8.1.5: their subject is the opaque stream id)."""
        return self._opaque(self.subject) if self.type in STREAM_EVENTS else None

    @property
    def claims(self) -> Mapping[str, Any]:
        """The claims a token-claims-change event gives the new values of
        (null: the claim no longer applies); empty for any other event."""
        claims = self.body.get("claims") if self.type == TOKEN_CLAIMS_CHANGE else None
        return claims if isinstance(claims, Mapping) else _NO_CLAIMS

    @property
    def _complex(self) -> bool:
        return self.subject.get("format") == "complex"

    def _member(self, name: str) -> Any:
        return self.subject.get(name) if self._complex else None

    @staticmethod
    def _opaque(identifier: Any) -> str | None:
        return _text(identifier.get("id")) if _has_format(identifier, "opaque") else None


def _has_format(identifier: Any, name: str) -> bool:
    return isinstance(identifier, Mapping) and identifier.get("format") == name


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


class SecurityEventVerifier(SignedTokenVerifier):
    """SETs of ``issuer`` for the receiver whose client_id is ``audience``.
    The other options are those of :class:`SignedTokenVerifier` (``leeway``,
    ``http``, ``clock``...). Thread-safe; build one per process and keep it."""

    def verify(self, token: Any) -> SecurityEvent:
        """The event a SET carries, or a claims.InvalidToken subclass (or
        ProviderUnavailable: it could not be checked)."""
        if type(token) is not str or not token:
            raise MalformedToken("A Security Event Token is needed.")
        claims = self._verified(token, SECURITY_EVENT_TOKEN)
        for name, refusal in _FOREIGN_CLAIMS:
            if name in claims:
                raise WrongTokenType(refusal)
        # The base class's rules for iss, aud, iat and nbf, once; it wants an
        # exp, which a SET has not (refused above): one that never comes.
        self._check({**claims, "exp": math.inf}, self.audience, iat_required=True)
        audience_of(claims)  # a string or strings, as in every token
        jti = claims.get("jti")
        if type(jti) is not str or not jti:
            raise MalformedToken("The SET's 'jti' is not a non-empty string.")
        if "txn" in claims and type(claims["txn"]) is not str:
            raise MalformedToken("The SET's 'txn' is not a string.")
        events = claims.get("events")
        if type(events) is not dict:
            raise WrongTokenType("The token carries no 'events' object: it is not a SET.")
        if len(events) != 1:
            raise MalformedToken("A SET carries exactly one event.")
        ((event_type, body),) = events.items()
        if not event_type or type(body) is not dict:
            raise MalformedToken("The SET's event is not an object under its type URI.")
        subject = claims.get("sub_id")
        if type(subject) is not dict or type(subject.get("format")) is not str:
            raise MalformedToken("The SET's 'sub_id' is not a subject identifier.")
        return SecurityEvent(jti, event_type, ReadOnlyClaims(body), float(claims["iat"]),
                             claims.get("txn"), ReadOnlyClaims(subject), self.issuer)


# -- refusals, as the transmitter is told ----------------------------------------------

_ERR_CODES = ((UnknownKey, INVALID_KEY), (BadSignature, INVALID_KEY),
              (DisallowedAlgorithm, INVALID_KEY), (WrongIssuer, INVALID_ISSUER),
              (WrongAudience, INVALID_AUDIENCE))


class SetRejected(Exception):
    """A SET this receiver will not take, as the transmitter is told (RFC 8935
    §2.3, RFC 8936 §2.4.4): ``err`` a code of claims.security_event_types,
    ``description`` a sentence that never quotes the SET. A handler may raise
    it too, e.g. ``invalid_state`` for a verification it did not ask for."""

    def __init__(self, err: str, description: str) -> None:
        self.err = err
        self.description = description
        super().__init__(f"{err}: {description}")

    @classmethod
    def from_error(cls, error: InvalidToken) -> SetRejected:
        """The rejection the verifier's refusal ``error`` means."""
        err = next((code for kind, code in _ERR_CODES if isinstance(error, kind)),
                   INVALID_REQUEST)
        return cls(err, error.message)


# -- the receiver ------------------------------------------------------------------

Handler = Callable[[SecurityEvent], object]


class Receiver:
    """Verifies SETs and acts on each at most once, by calling the handlers
    registered for its type (:meth:`on`).

    Delivery is at least once: a transmitter sends a SET again until it is
    acknowledged, so a ``jti`` seen before is dropped, for ``remember_seconds``
    after it was handled, among the ``max_remembered`` latest (beyond, the
    oldest are forgotten). A SET has no ``exp``: one replayed after that is
    taken again, so a handler that sets state should compare the event's time
    with the state's. A handler that raises leaves its jti unremembered, so the
    transmitter's retry runs it again; until it returns, the same jti
    delivered concurrently waits for it. Thread-safe."""

    def __init__(self, verifier: SecurityEventVerifier, *,
                 remember_seconds: float = 7 * 24 * 3600, max_remembered: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        if remember_seconds <= 0 or max_remembered <= 0:
            raise ValueError("remember_seconds and max_remembered must be positive")
        self.verifier = verifier
        self._remember_seconds = remember_seconds
        self._max_remembered = max_remembered
        self._clock = clock
        self._handlers: dict[str, tuple[Handler, ...]] = {}
        self._seen: dict[str, float] = {}  # jti -> until when; in the order they came
        self._running: dict[str, threading.Event] = {}  # jti -> set when its handlers end
        self._lock = threading.Lock()

    def on(self, event_type: str, handler: Handler) -> None:
        """Call ``handler(event)`` for each new event of ``event_type`` (a URI
        of claims.security_event_types), after those registered before it."""
        if not isinstance(event_type, str) or not event_type or not callable(handler):
            raise ValueError("on() takes an event type URI and a callable")
        with self._lock:
            self._handlers[event_type] = (*self._handlers.get(event_type, ()), handler)

    def receive(self, token: object) -> SecurityEvent | None:
        """The event of a new SET once its handlers have run; None for a SET
        seen before. SetRejected if it is refused; ProviderUnavailable if it
        could not be checked; a handler's exception as it was raised."""
        try:
            event = self.verifier.verify(token)
        except InvalidToken as error:
            raise SetRejected.from_error(error) from error
        done = self._claim(event.jti)
        if done is None:
            return None
        handled = False
        try:
            with self._lock:
                handlers = self._handlers.get(event.type, ())
            for handler in handlers:
                handler(event)
            handled = True
        finally:
            self._release(event.jti, done, remember=handled)
        return event

    def _claim(self, jti: str) -> threading.Event | None:
        """Mark ``jti`` as being handled by this thread; None if it was handled
        before. Waits while another thread handles it."""
        while True:
            with self._lock:
                until = self._seen.get(jti)
                if until is not None and until > self._clock():
                    return None
                running = self._running.get(jti)
                if running is None:
                    done = self._running[jti] = threading.Event()
                    return done
            running.wait()  # then look again: it may have failed

    def _release(self, jti: str, done: threading.Event, *, remember: bool) -> None:
        now = self._clock()
        with self._lock:
            del self._running[jti]
            if remember:
                self._seen.pop(jti, None)  # an expired entry: to the end, in order
                self._seen[jti] = now + self._remember_seconds
                self._forget_old(now)
        done.set()

    def _forget_old(self, now: float) -> None:
        """The oldest come first: drop those expired, then the oldest beyond the bound."""
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > now and len(seen) <= self._max_remembered:
                return
            del seen[oldest]


__all__ = ["SECURITY_EVENT_TOKEN", "Handler", "Receiver", "SecurityEvent",
           "SecurityEventVerifier", "SetRejected"]
