"""Receiving logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6-2.8):
the ``claims`` toolkit verifies them (:class:`claims.LogoutTokenVerifier`);
this module acts on each at most once, by ending the sessions it names.

A ``jti`` seen before (until its ``exp``) is acknowledged but not acted on
again: a provider may retry a delivery, and a replayed token naming only
``sub`` must not end sessions that started after the logout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from claims import LogoutToken, LogoutTokenVerifier
from services.rp_session import SessionStore

log = logging.getLogger("services.rp")
MAX_REMEMBERED = 10_000  # jtis; beyond, the oldest are forgotten


class LogoutReceiver:
    """Ends the sessions of ``sessions`` that verified logout tokens name;
    thread-safe."""

    def __init__(self, verifier: LogoutTokenVerifier, sessions: SessionStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._verifier = verifier
        self._sessions = sessions
        self._clock = clock
        self._seen: dict[str, float] = {}  # jti -> until when it is remembered
        self._lock = threading.Lock()

    def receive(self, token: object) -> int:
        """How many sessions the logout token ended (0 for one seen before), or
        claims.InvalidToken (refused) or claims.ProviderUnavailable (not checked)."""
        logout = self._verifier.verify(token)
        if not self._first_time(logout):
            return 0
        ended = self._sessions.end(sid=logout.sid, subject=logout.subject)
        log.info("back-channel logout ended %d session(s)", ended)
        return ended

    def _first_time(self, logout: LogoutToken) -> bool:
        """Remember the token's jti until it expires; False if it was seen."""
        now = self._clock()
        with self._lock:
            if logout.jti in self._seen:  # before making room, which could forget it
                return False
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen = {j: exp for j, exp in self._seen.items() if exp > now}
                while len(self._seen) >= MAX_REMEMBERED:
                    del self._seen[next(iter(self._seen))]
            # Until the verifier would refuse it anyway: expired, with its leeway.
            self._seen[logout.jti] = logout.expires_at + self._verifier.leeway
            return True


__all__ = ["LogoutReceiver"]
