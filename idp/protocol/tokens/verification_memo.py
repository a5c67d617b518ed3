"""A memo of verified access-token signatures, keyed by the exact token string.

Backends introspect the same token for each API call; checking its ES256
signature again each time is most of the work. The memo keeps the claims of
a token whose signature, ``typ`` and issuer were checked, and on every hit
the time-dependent rules are checked again (expiry: the same claims registry
as the first time) and so is the key: it must still be published. Any change
of the key store (rotation, retirement, revocation) empties the memo, so a
revoked key is trusted for nothing at once. The memo never holds the live
state (revocations, suspensions, memberships, roles): those are read at every
request ("Role changes count at once", docs/security.md).

Bounded: at most ``size`` tokens per process (``KEYHOLDER_VERIFICATION_MEMO_SIZE``),
the oldest forgotten first; 0 turns it off."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Claims = dict[str, Any]


class VerificationMemo:
    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, Claims]] = {}  # token -> (kid, claims)
        self._revision: bytes | None = None

    def get(self, token: str, revision: bytes, still_valid: Callable[[str, Claims], bool]
            ) -> Claims | None:
        """The memoised claims of ``token`` if the key store is at ``revision``
        and ``still_valid(kid, claims)`` holds now."""
        if revision != self._revision:
            self._reset(revision)
            return None
        hit = self._entries.get(token)
        if hit is None or not still_valid(*hit):
            return None
        return hit[1]

    def put(self, token: str, revision: bytes, kid: str, claims: Claims) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if revision != self._revision:
                self._entries.clear()
                self._revision = revision
            while len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[token] = (kid, claims)

    def _reset(self, revision: bytes) -> None:
        with self._lock:
            self._entries.clear()
            self._revision = revision

    def __len__(self) -> int:
        return len(self._entries)
