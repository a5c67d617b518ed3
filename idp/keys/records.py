"""What one signing key is: its state, the record its file holds, and the
:class:`KeyInfo` shown to callers (without key material)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from idp.keys import material
from idp.keys.errors import KeyStoreError

FORMAT = 1


class KeyState(StrEnum):
    """next: published, not signing yet; active: signs (one per algorithm);
    retired: signs no more, published until tokens it signed have expired;
    revoked: may be compromised, so never published again and nothing it
    signed verifies (kept for the record as long as a retired key)."""

    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    state: KeyState
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    published_until: datetime | None  # None unless retired
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class KeyRecord:
    """The content of ``<kid>.json``. A retired or revoked key keeps no
    private key: nothing can sign with it again, even with the passphrase."""

    kid: str
    alg: str
    state: KeyState
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    public: dict[str, str]  # the public JWK members (material.PUBLIC_MEMBERS)
    # Encrypted PKCS#8; None once retired. Kept out of repr: never in a log.
    private_pem: str | None = field(repr=False)
    # Set once revoked (files written before revocation existed have none).
    revoked_at: datetime | None = None

    def published_until(self, retention: timedelta) -> datetime | None:
        if self.state is KeyState.REVOKED or self.retired_at is None:
            return None
        return self.retired_at + retention

    def is_published(self, now: datetime, retention: timedelta) -> bool:
        """In the JWKS, and so trusted to verify our own tokens."""
        if self.state is KeyState.REVOKED:
            return False
        until = self.published_until(retention)
        return until is None or now < until

    def is_kept(self, now: datetime, retention: timedelta) -> bool:
        """In the folder: published, or revoked less than ``retention`` ago
        (so that ``keys list`` shows it and a second revocation is told)."""
        if self.state is KeyState.REVOKED:
            return self.revoked_at is not None and now < self.revoked_at + retention
        return self.is_published(now, retention)

    def info(self, retention: timedelta) -> KeyInfo:
        return KeyInfo(self.kid, self.alg, self.state, self.created_at, self.activated_at,
                       self.retired_at, self.published_until(retention), self.revoked_at)

    def jwk(self) -> dict[str, str]:
        """The public JWK as published (RFC 7517 §4)."""
        return {"kty": self.public["kty"], "use": "sig", "alg": self.alg, "kid": self.kid,
                **{name: value for name, value in self.public.items() if name != "kty"}}

    def to_json(self) -> bytes:
        data = {"format": FORMAT, "kid": self.kid, "alg": self.alg, "state": self.state.value,
                "created_at": _iso(self.created_at), "activated_at": _iso(self.activated_at),
                "retired_at": _iso(self.retired_at), "revoked_at": _iso(self.revoked_at),
                "public_key": self.public, "private_key": self.private_pem}
        return json.dumps(data, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, path: Path, data: bytes, where: str | None = None) -> KeyRecord:
        """Parse and check a key file (``where``: how to name it, default its
        path); any problem names the file."""
        try:
            return cls._parse(path.stem, json.loads(data))
        except KeyError as error:
            reason = f"{error.args[0]} is missing"
        except (_Corrupt, ValueError, TypeError) as error:
            # json, datetime and KeyState errors quote the file's content, which
            # holds no secret in the clear: safe to show.
            reason = str(error)
        raise KeyStoreError(f"corrupt key file {where or path}: {reason}")

    @classmethod
    def _parse(cls, kid: str, data: Any) -> KeyRecord:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise _Corrupt(f"not a key file of format {FORMAT}")
        if data["kid"] != kid:
            raise _Corrupt("the kid inside is not the file's name")
        alg = data["alg"]
        if alg not in material.ALGORITHMS:
            raise _Corrupt(f"unsupported algorithm {alg!r}")
        record = cls(kid, alg, KeyState(data["state"]), _time(data["created_at"]),
                     _time(data["activated_at"]), _time(data["retired_at"]),
                     data["public_key"], data["private_key"],
                     _time(data.get("revoked_at")))
        if problem := material.public_problem(alg, kid, record.public):
            raise _Corrupt(problem)
        if problem := record._state_problem():
            raise _Corrupt(problem)
        return record

    def _state_problem(self) -> str | None:
        if self.created_at is None:
            return "created_at is missing"
        if (self.state is KeyState.REVOKED) != (self.revoked_at is not None):
            return "revoked_at must be set on a revoked key and only there"
        if self.state is KeyState.REVOKED:
            if self.private_pem is not None:
                return "a revoked key must have no private key"
            return None
        if self.state is KeyState.RETIRED:
            if self.retired_at is None or self.private_pem is not None:
                return "a retired key must have retired_at and no private key"
            return None
        if self.retired_at is not None or not isinstance(self.private_pem, str):
            return f"a key in state {self.state} must have a private key and no retired_at"
        if (self.state is KeyState.ACTIVE) != (self.activated_at is not None):
            return "activated_at must be set on an active key and only there"
        return None


class _Corrupt(Exception):
    pass


_RANK = {KeyState.ACTIVE: 0, KeyState.NEXT: 1, KeyState.RETIRED: 2, KeyState.REVOKED: 3}


def display_order(record: KeyRecord) -> tuple[int, int, float, str]:
    """Active keys first, then next, retired and revoked; by algorithm; the
    most recently changed first; the kid breaks ties so the order is stable."""
    moment = {KeyState.ACTIVE: record.activated_at, KeyState.NEXT: record.created_at,
              KeyState.RETIRED: record.retired_at,
              KeyState.REVOKED: record.revoked_at}[record.state]
    assert moment is not None  # checked on load
    return (_RANK[record.state], material.ALGORITHMS.index(record.alg),
            -moment.timestamp(), record.kid)


def from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise _Corrupt(f"time {text!r} has no time zone")
    return moment.astimezone(UTC)
