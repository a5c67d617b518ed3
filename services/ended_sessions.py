"""Sessions a logout elsewhere ended (a back-channel logout, a revoked
session at the provider), remembered for a while by the hash of their
cookie: the next visit with that cookie is told "You are signed out"
rather than asked for a password out of the blue. Told once; bounded."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_ENDED = 10_000  # the oldest are forgotten first


@dataclass(frozen=True)
class Ended:
    """A session a logout ended, and what was kept of it (its language, say)."""

    kept: str | None


class EndedSessions:
    """``keep``: what to remember of a session's data; ``seconds``: for how long."""

    def __init__(self, *, seconds: float, clock: Callable[[], float],
                 keep: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.seconds, self.keep = seconds, keep
        self._clock = clock
        self._ended: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def bury(self, key: str, data: dict[str, Any]) -> None:
        kept = self.keep(data) if self.keep else None
        with self._lock:
            self._ended[key] = (self._clock(), kept)
            self._ended.move_to_end(key)
            while len(self._ended) > MAX_ENDED:
                self._ended.popitem(last=False)

    def take(self, key: str) -> Ended | None:
        with self._lock:
            entry = self._ended.pop(key, None)
        if entry is None or self._clock() - entry[0] > self.seconds:
            return None
        return Ended(entry[1])


__all__ = ["MAX_ENDED", "Ended", "EndedSessions"]
