"""Server-side sessions for the services: the browser holds one random 256-bit
value, and everything it stands for (who signed in, the pending sign-in's
state, nonce and PKCE verifier, the CSRF secret) stays in this process.

Plugged into Flask as its ``SessionInterface``, so ``flask.session`` (and
Flask-WTF's CSRF token in it) is this store. Why not Flask's signed cookie:
a cookie can be replayed after logout, and a back-channel logout must be
able to end a session that the browser is not presenting at that moment.

- Records are keyed by the SHA-256 of the cookie value: the store (a dump, a
  debugger) never holds a value that would work as a cookie.
- A session that was ended while one of its requests was running (logout in
  another tab, a back-channel logout) is not brought back when that request
  saves: only a request that started a new session may create one.
- Signed-in sessions expire after ``idle`` seconds without a request and
  ``absolute`` seconds after they started; anonymous ones (a sign-in under
  way, a CSRF token) after ``anonymous`` seconds.
- The provider's security events act on sessions that are not being
  presented: :meth:`SessionStore.mark_stale` flags the sessions of a person
  whose claims changed (the flag lives beside the data, so a request that
  saves its copy cannot drop it), and :meth:`SessionStore.refreshed` puts
  the tokens of a refresh in at once, so that a request that loaded the
  session before the refresh does not put the old ones back when it saves.
- A session a logout elsewhere ended (:meth:`SessionStore.end`: a
  back-channel logout, a revoked session) is remembered as ended for a while
  (:mod:`services.ended_sessions`), so the next visit with its cookie can say so.
- In memory, per process: the services run as one process each (the demo).
  Several processes would need a shared store behind the same interface.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from services.ended_sessions import Ended, EndedSessions

IDLE_SECONDS = 60 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60
ANONYMOUS_SECONDS = 15 * 60
PURGE_INTERVAL = 60.0

# The session keys the store indexes (set by the sign-in, see rp_views).
SUBJECT = "sub"
PROVIDER_SID = "sid"
CUSTOMER_NUMBER = "customer_number"  # the tenant the session speaks for
# The provider's ``iat`` of the ID token the session was signed in with, and
# of the one its claims come from now (the sign-in's, or a refresh's): events
# older than these are not about this session (a SET replayed, or late).
SIGNED_IN_AT = "signed_in_at"
CLAIMS_AS_OF = "claims_as_of"


def _key(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Record:
    data: dict[str, Any]
    started: float
    seen: float
    stale: int | None = None  # the mark of the latest claims change not yet picked up
    generation: int = 0  # counts refreshes: a copy loaded before one is older
    refreshed_keys: set[str] = field(default_factory=set)

    @property
    def signed_in(self) -> bool:
        return self.data.get(SUBJECT) is not None


class SessionStore:
    """Sessions by cookie value; thread-safe."""

    def __init__(self, *, idle: float = IDLE_SECONDS, absolute: float = ABSOLUTE_SECONDS,
                 anonymous: float = ANONYMOUS_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 keep_on_end: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        """``keep_on_end``: what to remember of a session a logout ends (its
        language, say), for the page its next visit shows."""
        self.idle, self.absolute, self.anonymous = idle, absolute, anonymous
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self.ended = EndedSessions(seconds=idle, clock=clock, keep=keep_on_end)
        self._lock = threading.Lock()
        self._purged = clock()
        self._marks = itertools.count(1)

    @staticmethod
    def new_cookie_value() -> str:
        return secrets.token_urlsafe(32)  # 256 bits

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def _expired(self, record: _Record, now: float) -> bool:
        if not record.signed_in:
            return now - record.started > self.anonymous
        return now - record.seen > self.idle or now - record.started > self.absolute

    def load(self, cookie_value: str) -> dict[str, Any] | None:
        """A copy of the session's data (changes are kept only by ``save``)."""
        opened = self.open(cookie_value)
        return None if opened is None else opened.data

    def open(self, cookie_value: str) -> Opened | None:
        """A copy of the session's data, with its stale mark and generation."""
        key, now = _key(cookie_value), self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return None
            if self._expired(record, now):
                del self._records[key]
                return None
            record.seen = now
            return Opened(dict(record.data), record.stale, record.generation)

    def save(self, cookie_value: str, data: dict[str, Any], *, create: bool,
             generation: int | None = None) -> bool:
        """Store ``data``; False (and nothing stored) if the session is gone and
        ``create`` is not set. ``generation`` is the one ``data`` was loaded
        at: if the session was refreshed since, the refreshed values stay."""
        key, now = _key(cookie_value), self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is None:
                if not create:
                    return False
                self._purge(now)
                self._records[key] = _Record(dict(data), now, now)
            else:
                data = dict(data)
                if generation is not None and generation != record.generation:
                    for name in record.refreshed_keys:  # newer than this request's copy
                        if name in record.data:
                            data[name] = record.data[name]
                        else:
                            data.pop(name, None)
                record.data, record.seen = data, now
            return True

    def mark_stale(self, *, subject: str, customer_number: str | None = None,
                   as_of: float | None = None) -> int:
        """Flag the sessions of ``subject`` (for ``customer_number`` only, when
        given) whose claims are as of ``as_of`` or earlier (all, without it):
        their next request refreshes them. Returns how many."""
        with self._lock:
            mark = next(self._marks)
            marked = 0
            for record in self._records.values():
                data = record.data
                if data.get(SUBJECT) != subject or (
                        customer_number is not None
                        and data.get(CUSTOMER_NUMBER) != customer_number) \
                        or not _older(data.get(CLAIMS_AS_OF), as_of):
                    continue
                record.stale = mark
                marked += 1
            return marked

    def refreshed(self, cookie_value: str, changes: dict[str, Any], *,
                  mark: int | None) -> int | None:
        """Put a refresh's values in at once; the stale flag goes if it is still
        ``mark`` (a change that came meanwhile keeps it). The new generation,
        or None if the session is gone."""
        with self._lock:
            record = self._records.get(_key(cookie_value))
            if record is None:
                return None
            record.data.update(changes)
            record.refreshed_keys.update(changes)
            record.generation += 1
            if record.stale == mark:
                record.stale = None
            return record.generation

    def delete(self, cookie_value: str) -> None:
        with self._lock:
            self._records.pop(_key(cookie_value), None)

    def end(self, *, sid: str | None = None, subject: str | None = None,
            signed_in_by: float | None = None) -> int:
        """End every session of the provider session ``sid`` (and of
        ``subject``, when both are given), or every session of ``subject``;
        with ``signed_in_by``, only those signed in then or before. Returns
        how many. A linear scan: logouts are rare."""
        if sid is None and subject is None:
            raise ValueError("end sessions by sid, by subject, or both")
        with self._lock:
            doomed = [key for key, record in self._records.items()
                      if (sid is None or record.data.get(PROVIDER_SID) == sid)
                      and (subject is None or record.data.get(SUBJECT) == subject)
                      and _older(record.data.get(SIGNED_IN_AT), signed_in_by)]
            for key in doomed:
                self.ended.bury(key, self._records.pop(key).data)
            return len(doomed)

    def take_ended(self, cookie_value: str | None) -> Ended | None:
        """Whether a logout elsewhere ended the session of ``cookie_value``
        (within ``idle`` seconds); told once."""
        return self.ended.take(_key(cookie_value)) if cookie_value else None

    def _purge(self, now: float) -> None:
        if now - self._purged < PURGE_INTERVAL:
            return
        self._purged = now
        for key in [k for k, r in self._records.items() if self._expired(r, now)]:
            del self._records[key]


@dataclass(frozen=True)
class Opened:
    """A session as a request finds it: a copy of its data, the mark of a
    claims change not yet picked up (None: fresh), its generation."""

    data: dict[str, Any]
    stale: int | None
    generation: int


def _older(moment: Any, bound: float | None) -> bool:
    """``moment`` is at or before ``bound`` (or one of them is unknown)."""
    return bound is None or not isinstance(moment, int | float) or moment <= bound


class ServerSession(CallbackDict, SessionMixin):
    """``flask.session`` for one request. ``regenerate()`` gives it a new
    cookie value at the end of the request (after a sign-in: no session
    fixation); ``end()`` removes it from the store and the browser."""

    def __init__(self, data: dict[str, Any] | None = None,
                 cookie_value: str | None = None, *, stale: int | None = None,
                 generation: int | None = None) -> None:
        def on_update(session: ServerSession) -> None:
            session.modified = True
            session.accessed = True

        super().__init__(data, on_update)
        self.cookie_value = cookie_value
        self.new = cookie_value is None
        self.modified = False
        self.regenerated = False
        self.ended = False
        self.stale = stale  # the store's mark: the claims changed since they were read
        self.generation = generation

    def regenerate(self) -> None:
        self.regenerated = self.modified = True

    def end(self) -> None:
        self.clear()
        self.ended = True


class ServerSessionInterface(SessionInterface):
    """Flask's session, kept in a :class:`SessionStore`; the cookie's name and
    attributes come from Flask's ``SESSION_COOKIE_*`` settings."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        value = request.cookies.get(self.get_cookie_name(app))
        opened = self.store.open(value) if value else None
        if opened is None:
            return ServerSession()
        return ServerSession(opened.data, value, stale=opened.stale,
                             generation=opened.generation)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        old = session.cookie_value
        if session.ended or (old is not None and session.modified and not session):
            if old is not None:
                self.store.delete(old)
                self._forget(app, response)
            return
        if not session.modified or not session:
            return
        value, create = old, old is None
        if session.regenerated:
            if old is not None:
                self.store.delete(old)
            value, create = None, True
        value = value or self.store.new_cookie_value()
        if not self.store.save(value, dict(session), create=create,
                               generation=None if create else session.generation):
            self._forget(app, response)  # ended meanwhile: stays ended
            return
        response.set_cookie(
            self.get_cookie_name(app), value, httponly=self.get_cookie_httponly(app),
            secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app),
            path=self.get_cookie_path(app), domain=self.get_cookie_domain(app))

    def _forget(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app), path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app), secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app), samesite=self.get_cookie_samesite(app))


__all__ = ["CLAIMS_AS_OF", "CUSTOMER_NUMBER", "PROVIDER_SID", "SIGNED_IN_AT", "SUBJECT", "Opened",
           "ServerSession", "ServerSessionInterface", "SessionStore"]
