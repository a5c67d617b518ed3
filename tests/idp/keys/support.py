"""What the key-store tests share: the passphrase, a clock the test moves,
and short ways to open a store and find its keys."""

from __future__ import annotations

from pathlib import Path

from idp.keys import KeyState, KeyStore

PASSPHRASE = "test-keys-passphrase-that-is-long-enough-0123"
RETENTION = 900


class FakeClock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def open_store(folder: Path, clock: FakeClock, passphrase: str = PASSPHRASE,
               reload_interval: float = 0) -> KeyStore:
    return KeyStore(folder, passphrase, retention_seconds=RETENTION,
                    reload_interval=reload_interval, clock=clock)


def kids(store: KeyStore, state: KeyState, alg: str | None = None) -> list[str]:
    return [k.kid for k in store.list() if k.state is state and alg in (None, k.alg)]
