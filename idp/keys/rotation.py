"""The rules that change the store (ensure, rotate, retire, revoke), written as a
:class:`Plan` over the keys read under the lock, then applied to the folder.

Readers take no lock and may read the folder half-way through a change, so a
plan is written in this order: new keys, then activations, then retirements,
then revocations, then deletions. In between, a reader may see an extra next
key (harmless: it is published) or two active keys for one algorithm (it
signs with the most recently activated); it never sees an algorithm without
an active key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from idp.keys import files
from idp.keys.errors import AlreadyRevoked, KeyStoreError, UnknownKey
from idp.keys.records import KeyRecord, KeyState, display_order

log = logging.getLogger("keyholder.keys")

NewKey = Callable[[str, KeyState, datetime], KeyRecord]


class Plan:
    """The keys as they will be, and what changed to get there."""

    def __init__(self, records: Iterable[KeyRecord], now: datetime, retention: timedelta,
                 new_key: NewKey) -> None:
        self.now = now
        self.retention = retention
        self._new_key = new_key
        self._before = {record.kid: record for record in records}
        self._after = dict(self._before)
        self._created: list[str] = []

    def get(self, kid: str) -> KeyRecord:
        try:
            return self._after[kid]
        except KeyError:
            raise UnknownKey(kid) from None

    def keys(self, alg: str, state: KeyState) -> list[KeyRecord]:
        """The keys of ``alg`` in ``state``, oldest first."""
        return sorted((r for r in self._after.values() if r.alg == alg and r.state is state),
                      key=lambda r: (r.created_at, r.kid))

    def create(self, alg: str, state: KeyState) -> KeyRecord:
        record = self._new_key(alg, state, self.now)
        self._after[record.kid] = record
        self._created.append(record.kid)
        return record

    def activate(self, record: KeyRecord) -> None:
        self._after[record.kid] = replace(record, state=KeyState.ACTIVE, activated_at=self.now)

    def retire(self, record: KeyRecord) -> None:
        # The private key goes: a retired key is published, never used again.
        self._after[record.kid] = replace(record, state=KeyState.RETIRED,
                                          retired_at=self.now, private_pem=None)

    def revoke(self, record: KeyRecord) -> None:
        # Unpublished at once, and the private key goes with it.
        self._after[record.kid] = replace(record, state=KeyState.REVOKED,
                                          revoked_at=self.now, private_pem=None)

    def complete(self, alg: str) -> None:
        """One active and at least one next key for ``alg``. A missing active
        key is the oldest next one (it has been published longest); only a
        store without any gets a new key that signs at once."""
        active = sorted(self.keys(alg, KeyState.ACTIVE), key=lambda r: (r.activated_at, r.kid))
        for extra in active[:-1]:  # left by a writer that died half-way
            self.retire(extra)
        if not active:
            waiting = self.keys(alg, KeyState.NEXT)
            if waiting:
                self.activate(waiting[0])
            else:
                self.create(alg, KeyState.ACTIVE)
        if not self.keys(alg, KeyState.NEXT):
            self.create(alg, KeyState.NEXT)

    def is_new(self, kid: str) -> bool:
        return kid in self._created

    def changed(self) -> list[KeyRecord]:
        """New and changed keys, in display order (deleted ones are not shown)."""
        return sorted((r for kid, r in self._after.items()
                       if kid in self._created or r != self._before[kid]), key=display_order)

    def apply(self, backend) -> None:
        """Write the changes through ``backend`` (:mod:`idp.keys.backends`),
        under its lock, in an order every reader can serve at each step."""
        expired = [kid for kid, r in self._after.items()
                   if not r.is_kept(self.now, self.retention)]
        changed = self.changed()
        ordered = ([r for r in changed if r.kid in self._created]
                   + [r for r in changed if r.kid not in self._created
                      and r.state is KeyState.ACTIVE]
                   + [r for r in changed if r.kid not in self._created
                      and r.state not in (KeyState.ACTIVE, KeyState.REVOKED)]
                   + [r for r in changed if r.kid not in self._created
                      and r.state is KeyState.REVOKED])
        for record in ordered:
            backend.write(files.file_name(record.kid), record.to_json())
            log.info("signing key %s (%s) is now %s", record.kid, record.alg, record.state)
        for kid in expired:  # past retention: no token it signed is still valid
            backend.remove(files.file_name(kid))
            log.info("signing key %s (%s) is past its retention: deleted",
                     kid, self._after[kid].alg)


def ensure(plan: Plan, algorithms: Iterable[str]) -> None:
    for alg in algorithms:
        plan.complete(alg)


def rotate(plan: Plan, algorithms: Iterable[str]) -> None:
    """ACTIVE -> RETIRED, NEXT -> ACTIVE, and a new NEXT key: the key that
    starts signing has been published since the previous rotation."""
    for alg in algorithms:
        waiting = plan.keys(alg, KeyState.NEXT)
        if not waiting:
            raise KeyStoreError(f"there is no next {alg} key to activate: "
                                "run `keyholder init` first")
        for active in plan.keys(alg, KeyState.ACTIVE):
            plan.retire(active)
        plan.activate(waiting[0])
        plan.complete(alg)


def retire(plan: Plan, kid: str) -> None:
    """Take one key out of use now (an emergency): an active key is replaced
    by the next one, and a new next key is made."""
    record = plan.get(kid)
    if record.state is KeyState.REVOKED:
        raise AlreadyRevoked(kid, record.revoked_at)
    if record.state is KeyState.RETIRED:
        until = record.published_until(plan.retention)
        raise KeyStoreError(f"signing key {kid} is already retired "
                            f"(published until {until:%Y-%m-%d %H:%M:%S}Z)")
    plan.retire(record)
    plan.complete(record.alg)


def revoke(plan: Plan, kid: str) -> None:
    """Stop trusting a key that may be compromised: whatever its state, it
    leaves the JWKS and nothing it signed verifies any more. An active key
    is replaced by the next one (published since the last rotation, so
    relying parties have it), and a new next key is made, so that a key is
    still published before it signs."""
    record = plan.get(kid)
    if record.state is KeyState.REVOKED:
        raise AlreadyRevoked(kid, record.revoked_at)
    plan.revoke(record)
    plan.complete(record.alg)
