"""``/metrics`` over real HTTP while people sign in and services check tokens
(issue 15): logins, tokens by grant and active introspections move."""

from __future__ import annotations

import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.idp.test_metrics import value
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def scrape(provider) -> str:
    answer = requests.get(f"{provider.url}/metrics", timeout=10)
    assert answer.status_code == 200
    return answer.text


def test_a_sign_in_and_its_tokens_are_counted(provider, web):
    before = scrape(provider)
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    tokens = web.redeem(code, authorization.verifier).json()
    assert web.introspect(tokens["access_token"]).json()["active"] is True
    assert web.refresh(tokens["refresh_token"]).status_code == 200
    after = scrape(provider)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("keyholder_logins_total", outcome="succeeded") >= 1
    assert moved("keyholder_tokens_issued_total", grant="authorization_code") == 1
    assert moved("keyholder_tokens_issued_total", grant="refresh_token") == 1
    assert moved("keyholder_introspections_active_total") == 1
    assert moved("keyholder_http_requests_total", endpoint="token", method="POST",
                 status="200") == 2
