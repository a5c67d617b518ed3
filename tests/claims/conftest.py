"""Fixtures of the relying-party toolkit's tests: a provider double on loopback
publishing an RSA and an EC key, a fake clock, a minter and a verifier."""

from __future__ import annotations

import pytest

from claims import TokenVerifier
from tests.claims.provider_double import AUDIENCE, FakeClock, Keys, Minter, ProviderDouble


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()  # RSA generation is slow: once per session


@pytest.fixture
def provider_double(keys):
    double = ProviderDouble()
    double.publish(keys.rsa, keys.ec)
    yield double
    double.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def minter(provider_double, clock) -> Minter:
    return Minter(provider_double.url, clock)


@pytest.fixture
def verifier(provider_double, clock) -> TokenVerifier:
    return TokenVerifier(provider_double.url, audience=AUDIENCE, clock=clock, timeout=5)


@pytest.fixture(params=["rsa", "ec"])
def key(request, keys):
    return getattr(keys, request.param)
