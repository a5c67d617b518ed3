"""Clock skew between nodes (issue 15): a token from a node whose clock runs
ahead carries an ``iat`` (or ``nbf``) in the future. Up to
``KEYHOLDER_CLOCK_LEEWAY`` (60 s) it is accepted at introspection and
UserInfo; beyond, refused; and ``exp`` is never stretched by the leeway."""

from __future__ import annotations

import time

import pytest
import requests
from joserfc import jwt

from idp.keys import key_store
from tests.provider.test_jwt_forgery import genuine_tokens, refused


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


@pytest.fixture
def genuine(provider, web):
    return genuine_tokens(provider, web)


def signed(provider, header: dict, claims: dict) -> str:
    key = key_store(provider.app).signing_key("ES256")
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def accepted(provider, web, token: str) -> None:
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert userinfo.status_code == 200, userinfo.text
    assert web.introspect(token).json()["active"] is True


def leeway(provider) -> int:
    return provider.app.config["KEYHOLDER"].CLOCK_LEEWAY


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_node_two_minutes_ahead_is_within_the_default_leeway_only_up_to_it(
        provider, web, genuine, claim):
    _, header, claims = genuine
    now = int(time.time())
    accepted(provider, web, signed(provider, header, {**claims, claim: now + 30}))
    refused(provider, web, signed(provider, header, {**claims, claim: now + leeway(provider)
                                                     + 60}))


def test_a_node_behind_cannot_stretch_the_expiry(provider, web, genuine):
    # exp one second ago, well within the leeway: expired all the same.
    _, header, claims = genuine
    now = int(time.time())
    refused(provider, web, signed(provider, header, {**claims, "iat": now - 300,
                                                     "exp": now - 1}))


def test_the_leeway_is_the_documented_60_seconds(provider):
    from idp.settings import BY_NAME

    assert BY_NAME["CLOCK_LEEWAY"].default == 60 == leeway(provider)
