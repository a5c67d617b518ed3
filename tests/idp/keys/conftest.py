"""Fixtures of the key-store tests: a folder, a fake clock, a store on both."""

from pathlib import Path

import pytest

from idp.keys import KeyStore
from tests.idp.keys.support import FakeClock, open_store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def store(folder: Path, clock: FakeClock) -> KeyStore:
    made = open_store(folder, clock)
    made.ensure()
    return made
