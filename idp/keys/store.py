"""The signing-key store: the provider's ES256 and RS256 keys, shared by
every provider process (in a folder, or in the database for nodes on several
machines: :mod:`idp.keys.backends`), each key moving next -> active ->
retired, or revoked from any of these when it may be compromised.

Each :class:`KeyStore` keeps the keys it has read (decrypting is slow) and,
at most every ``reload_interval`` seconds, checks whether the store changed:
a rotation made by ``keyholder keys rotate`` in another process or on
another node is seen by a running server within about a second, without a
restart. A revocation is seen the same way: the key leaves the JWKS and
stops verifying within that second, in every process. Changes take the
store's exclusive lock."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from joserfc.jwk import KeySet

from idp.infrastructure import logs
from idp.keys import files, material, rotation
from idp.keys.backends import Backend, Folder
from idp.keys.errors import KeyStoreError, NoActiveKey
from idp.keys.material import ALGORITHMS, JoseKey
from idp.keys.records import KeyInfo, KeyRecord, KeyState, display_order, from_timestamp

__all__ = ["ALGORITHMS", "KeyInfo", "KeyState", "KeyStore"]


@dataclass
class _View:
    """The store as last read: immutable but for the JWKS cache."""

    digest: bytes
    records: tuple[KeyRecord, ...]  # in display order
    signing: dict[str, JoseKey]  # alg -> the active key, private
    public: dict[str, JoseKey]  # kid -> the public key
    jwks: bytes = b""
    jwks_from: datetime | None = None  # the JWKS holds for [jwks_from, jwks_until)
    jwks_until: datetime | None = None


class KeyStore:
    """The keys in ``location`` (a folder's path, or a backend such as
    :class:`idp.keys.backends.Table`), private keys encrypted with ``passphrase``.

    A retired key stays published for ``retention_seconds`` after it stopped
    signing, so that every token it signed can still be verified. ``clock``
    gives the time in seconds since the epoch (``time.time``)."""

    def __init__(self, location: Path | Backend, passphrase: str, *, retention_seconds: int,
                 reload_interval: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not passphrase:
            raise KeyStoreError("a passphrase is required to encrypt the signing keys")
        self.backend: Backend = location if not isinstance(location, str | Path) \
            else Folder(Path(location))
        self.retention = timedelta(seconds=retention_seconds)
        self.reload_interval = reload_interval
        self._passphrase = passphrase.encode()
        self._clock = clock
        # Request threads share the store; the lock guards the cached view.
        self._lock = threading.RLock()
        self._view: _View | None = None
        self._checked_at = 0.0
        self._decrypted: dict[tuple[str, str], JoseKey] = {}  # (kid, encrypted PEM) -> key

    def __repr__(self) -> str:  # never the passphrase
        return f"KeyStore({self.backend.where()!r})"

    @property
    def directory(self) -> Path | None:
        """The folder, for a folder store."""
        return self.backend.directory if isinstance(self.backend, Folder) else None

    # -- reading -----------------------------------------------------------

    def list(self) -> list[KeyInfo]:
        """Every key in the folder: active, then next, retired, revoked."""
        return [record.info(self.retention) for record in self._current().records]

    def signing_key(self, alg: str) -> JoseKey:
        """The one active key for ``alg``, private, with ``kid`` set: pass
        the kid in the JWS header (given a KeySet without one, joserfc picks
        a random key)."""
        material.check_algorithm(alg)
        key = self._current().signing.get(alg)
        if key is None:
            raise NoActiveKey(alg, self.backend.where())
        return key

    def jwks_bytes(self) -> bytes:
        """The public JWKS (RFC 7517 §5): active, next and retired keys still
        in their retention; never a revoked key. Computed once per change of
        the store (a revocation is a change: the folder's digest moves)."""
        view = self._current()
        now = self._now()
        with self._lock:
            stale = view.jwks_from is None or now < view.jwks_from \
                or (view.jwks_until is not None and now >= view.jwks_until)
            if stale:
                published = self._published(view, now)
                keys = [record.jwk() for record in published]
                view.jwks = json.dumps({"keys": keys}, separators=(",", ":")).encode()
                view.jwks_from = now
                view.jwks_until = min((r.published_until(self.retention) for r in published
                                       if r.retired_at is not None), default=None)
            return view.jwks

    def public_key(self, kid: str) -> JoseKey | None:
        """The public key ``kid`` if it is published, to verify our own tokens
        (None for a revoked key: what it signed is trusted nowhere)."""
        view = self._current()
        if any(r.kid == kid for r in self._published(view, self._now())):
            return view.public[kid]
        return None

    def revision(self) -> bytes:
        """Changes whenever the keys do (a rotation, a retirement, a revocation):
        what was verified under another revision is verified again."""
        return self._current().digest

    def verification_keys(self) -> KeySet:
        """The published public keys (each with kid and alg) as a joserfc KeySet."""
        view = self._current()
        return KeySet([view.public[r.kid] for r in self._published(view, self._now())])

    # -- changing ----------------------------------------------------------

    def ensure(self) -> list[KeyInfo]:
        """Create the folder (mode 0700) and, per algorithm, an active and a
        next key where missing. Returns the keys it created: none when the
        store is complete. (A missing active key is the next one, promoted.)"""
        self.backend.create()
        plan = self._change(lambda plan: rotation.ensure(plan, ALGORITHMS))
        return [r.info(self.retention) for r in plan.changed() if plan.is_new(r.kid)]

    def rotate(self, alg: str | None = None) -> list[KeyInfo]:
        """For ``alg`` (or every algorithm): the active key retires, the next
        key becomes active and a new next key is made. Returns those keys."""
        algorithms = ALGORITHMS if alg is None else (material.check_algorithm(alg),)
        changed = self._report(self._change(lambda plan: rotation.rotate(plan, algorithms)))
        for key in changed:
            logs.event("key.rotated", f"signing key {key.kid} is now {key.state}", kid=key.kid,
                       alg=key.alg, state=str(key.state))
        return changed

    def retire(self, kid: str) -> list[KeyInfo]:
        """Retire one key at once: it signs no more but stays published until
        its tokens expire. Returns the keys changed. Raises :class:`UnknownKey`,
        or :class:`KeyStoreError` if already retired or revoked."""
        return self._report(self._change(lambda plan: rotation.retire(plan, kid)))

    def revoke(self, kid: str) -> list[KeyInfo]:
        """Revoke a key that may be compromised: out of the JWKS at once and
        trusted for nothing it signed; an active key is replaced (see
        :func:`rotation.revoke`). Returns the keys changed, the revoked one
        included. Raises :class:`UnknownKey` or :class:`AlreadyRevoked`."""
        changed = self._report(self._change(lambda plan: rotation.revoke(plan, kid)))
        logs.event("key.revoked", f"signing key {kid} is revoked", kid=kid)
        return changed

    def adopt(self, source: KeyStore) -> list[KeyInfo]:
        """Take every key of ``source`` (another store, e.g. a folder, with the
        same passphrase) into this one, which must be empty. Returns them."""
        _, contents = source.backend.read_all()
        with self._lock, self.backend.locked():
            if self.backend.read_all()[1]:
                raise KeyStoreError(f"{self.backend.where()} already holds signing keys: "
                                    "nothing was imported")
            self._load(*source.backend.read_all())  # every key must decrypt
            for name, data in contents.items():
                self.backend.write(name, data)
            self._view = None
        return source.list()

    def _change(self, rule: Callable[[rotation.Plan], None]) -> rotation.Plan:
        with self._lock, self.backend.locked():
            # Read again under the lock: another process may just have changed
            # the store. Loading decrypts the keys in use, so a wrong
            # passphrase stops here, before a key is written with it.
            view = self._load(*self.backend.read_all())
            plan = rotation.Plan(view.records, self._now(), self.retention, self._new_record)
            rule(plan)
            plan.apply(self.backend)
            self._view = None
        return plan

    def _report(self, plan: rotation.Plan) -> list[KeyInfo]:
        return [record.info(self.retention) for record in plan.changed()]

    def _new_record(self, alg: str, state: KeyState, now: datetime) -> KeyRecord:
        key = material.generate(alg)
        public = material.public_jwk(alg, key)
        kid = material.kid_of(public)
        pem = material.encrypt(key, self._passphrase)
        self._decrypted[kid, pem] = material.signing_form(alg, kid, key)
        return KeyRecord(kid, alg, state, created_at=now,
                         activated_at=now if state is KeyState.ACTIVE else None,
                         retired_at=None, public=public, private_pem=pem)

    # -- the cached view -----------------------------------------------------

    def _now(self) -> datetime:
        return from_timestamp(self._clock())

    def _current(self) -> _View:
        with self._lock:
            now = self._clock()
            elapsed = now - self._checked_at
            # elapsed < 0: the clock was set back; that must not stop reloads.
            if self._view is not None and 0 <= elapsed < self.reload_interval:
                return self._view
            self._checked_at = now
            digest, contents = self.backend.read_all()
            if self._view is None or digest != self._view.digest:
                self._view = None  # a store that fails to load is never served
                self._view = self._load(digest, contents)
            return self._view

    def _load(self, digest: bytes, contents: dict[str, bytes]) -> _View:
        records = tuple(sorted((KeyRecord.from_json(Path(name), data, self.backend.where(name))
                                for name, data in contents.items()), key=display_order))
        decrypted: dict[tuple[str, str], JoseKey] = {}
        for record in records:
            if record.private_pem is not None:
                cached = (record.kid, record.private_pem)
                decrypted[cached] = self._decrypted.get(cached) or material.decrypt(
                    record.alg, record.kid, record.private_pem, self._passphrase,
                    self.backend.where(files.file_name(record.kid)))
        self._decrypted = decrypted  # forget keys retired or gone
        signing: dict[str, JoseKey] = {}
        active = sorted((r for r in records if r.state is KeyState.ACTIVE),
                        key=lambda r: (r.activated_at, r.kid))
        for record in active:  # two only half-way through a change: the newest signs
            assert record.private_pem is not None  # checked on load
            signing[record.alg] = decrypted[record.kid, record.private_pem]
        public = {r.kid: material.public_key(r.alg, r.kid, r.public) for r in records}
        return _View(digest, records, signing, public)

    def _published(self, view: _View, now: datetime) -> list[KeyRecord]:
        return [r for r in view.records if r.is_published(now, self.retention)]
