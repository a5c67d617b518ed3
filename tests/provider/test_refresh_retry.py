"""A refresh token sent again because its answer was lost (issue 15: a
worker killed after the commit, before the response). Within the grace, by
the same client, while its replacement is unused, it gets a fresh rotation
instead of revoking the family; any other second use still revokes it."""

from __future__ import annotations

import secrets

import pytest

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


@pytest.fixture
def first(provider, web) -> str:
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    return web.redeem(code, authorization.verifier).json()["refresh_token"]


def test_a_retry_of_a_lost_answer_gets_a_fresh_rotation(provider, web, first):
    lost = web.refresh(first)
    assert lost.status_code == 200  # ... and the client never saw it
    retried = web.refresh(first)
    assert retried.status_code == 200, retried.text
    newest = retried.json()["refresh_token"]
    assert newest not in {first, lost.json()["refresh_token"]}
    # The family lives on: the token the client holds now works.
    assert web.refresh(newest).status_code == 200
    # The replacement it never received is spent, not a second live token.
    assert web.introspect(lost.json()["refresh_token"]).json() == {"active": False}


def test_reuse_after_the_replacement_was_used_still_revokes_the_family(provider, web, first):
    second = web.refresh(first).json()["refresh_token"]
    third = web.refresh(second).json()["refresh_token"]
    reused = web.refresh(first)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert web.refresh(third).json()["error"] == "invalid_grant"  # revoked with it


def test_another_client_gets_no_grace(provider, web, first):
    assert web.refresh(first).status_code == 200
    other = provider.register(f"other-web-{secrets.token_hex(3)}")
    answer = other.refresh(first)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_a_code_used_twice_still_revokes(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    tokens = web.redeem(code, authorization.verifier).json()
    again = web.redeem(code, authorization.verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert web.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
