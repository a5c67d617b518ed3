"""A claims plugin defined only in the tests, installed the way any package
would be (a distribution's ``entry_points.txt`` on ``sys.path``), adds its
scope and claims to discovery, ID tokens, access tokens, UserInfo and
introspection, without a line of idp/ knowing about it."""

import importlib

import jwt as pyjwt
import pytest
import requests

from idp.protocol.claims_release import PluginError
from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

PHILIP = next(p for p in PEOPLE if p.name == "Philip Smith")
MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


def install(tmp_path, monkeypatch, name: str, target: str) -> None:
    """Make an installed distribution whose only content is the entry point."""
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[keyholder.claims]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


@pytest.fixture
def loyalty(tmp_path, monkeypatch):
    """The loyalty plugin, installed before the provider starts."""
    (tmp_path / "site").mkdir()
    install(tmp_path / "site", monkeypatch, "acme_loyalty",
            "tests.provider.loyalty_plugin:LoyaltyClaims")


def test_a_third_party_plugin_adds_its_claims_everywhere(loyalty, provider, web):
    meta = requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=10).json()
    assert "loyalty" in meta["scopes_supported"] and "customer" in meta["scopes_supported"]
    assert {"loyalty_tier", "loyalty_points", "role"} <= set(meta["claims_supported"])
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid customer loyalty")
    code = agent.code_for(web, authorization, email=PHILIP.email, password=PHILIP.password)
    tokens = web.redeem(code, authorization.verifier).json()
    id_claims = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})
    access = pyjwt.decode(tokens["access_token"], options={"verify_signature": False})
    info = requests.get(f"{provider.url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    seen = web.introspect(tokens["access_token"]).json()
    for claims in (id_claims, access, info, seen):
        assert claims["loyalty_tier"] == "gold"
        assert claims["loyalty_points"] == 10 * len(PHILIP.name)
        assert "purpose_seen" not in claims  # undeclared claims are dropped
        assert claims["role"] == "administrator"  # the customer plugin's, not the loyalty one's


def test_the_plugin_cannot_set_another_plugins_claim(loyalty, provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid customer loyalty")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    access = pyjwt.decode(web.redeem(code, authorization.verifier).json()["access_token"],
                          options={"verify_signature": False})
    assert access["loyalty_tier"] == "silver" and access["role"] == "user"


def test_without_its_scope_the_plugin_adds_nothing(loyalty, provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid customer")
    code = agent.code_for(web, authorization, email=PHILIP.email, password=PHILIP.password)
    access = pyjwt.decode(web.redeem(code, authorization.verifier).json()["access_token"],
                          options={"verify_signature": False})
    assert "loyalty_tier" not in access


def test_a_plugin_claiming_a_registered_claim_stops_the_start(tmp_path, monkeypatch, make_app,
                                                              database_url):
    (tmp_path / "site").mkdir()
    install(tmp_path / "site", monkeypatch, "greedy", "tests.provider.loyalty_plugin:GreedyClaims")
    with pytest.raises(PluginError, match="may not release \\['sub'\\]"):
        make_app(database_url)


def test_a_plugin_that_cannot_be_loaded_stops_the_start(tmp_path, monkeypatch, make_app,
                                                        database_url):
    (tmp_path / "site").mkdir()
    install(tmp_path / "site", monkeypatch, "broken", "tests.provider.no_such_module:Claims")
    with pytest.raises(PluginError, match="'broken' cannot be loaded"):
        make_app(database_url)
