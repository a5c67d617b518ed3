"""The relying party's parts on their own: its configuration checks, the
server-side session store, the refusal advice."""

from __future__ import annotations

import pytest
from flask import Flask

from claims import Identity
from services import cloud, ended_sessions, portal
from services.refusals import advice_for
from services.relying_party import WebServiceConfig
from services.rp_session import (
    CLAIMS_AS_OF,
    CUSTOMER_NUMBER,
    PROVIDER_SID,
    SIGNED_IN_AT,
    SUBJECT,
    SessionStore,
)
from services.web_rp import create_service_app

GOOD = {"name": "cloud", "title": "The Cloud", "issuer": "https://id.example",
        "client_id": "abc", "client_secret": "s3cret", "base_url": "https://cloud.example/",
        "cookie_name": "cloud_session", "secret_key": "x" * 32}


def test_a_good_config():
    config = WebServiceConfig(**GOOD)
    assert config.base_url == "https://cloud.example"
    assert config.redirect_uri == "https://cloud.example/callback"
    assert config.post_logout_redirect_uri == "https://cloud.example/signed-out"
    assert config.backchannel_logout_uri == "https://cloud.example/backchannel-logout"
    assert config.console_url == "https://id.example/console/become-administrator"
    assert WebServiceConfig(**{**GOOD, "base_url": "http://127.0.0.1:8101"})


@pytest.mark.parametrize(("change", "message"), [
    ({"issuer": "http://id.example"}, "https"),
    ({"base_url": "http://cloud.example"}, "https"),
    ({"base_url": "https://cloud.example/app"}, "origin"),
    ({"base_url": "https://cloud.example/?x=1"}, "origin"),
    ({"cookie_name": "keyholder_sso"}, "provider's"),
    ({"cookie_name": "a b"}, "cookie_name"),
    ({"cookie_name": "__Host-cloud", "base_url": "http://127.0.0.1:1"}, "https base_url"),
    ({"secret_key": "short"}, "secret_key"),
    ({"client_secret": ""}, "client_secret"),
    ({"scope": "profile customer"}, "openid"),
    ({"required_entitlement": "administrator"}, "administrator"),
    ({"security_events_authorization": "short"}, "security_events_authorization"),
    ({"security_events_authorization": "Bearer caf\u00e9-0123456789abcdef"},
     "security_events_authorization"),
])
def test_a_bad_config_is_refused_at_start(change, message):
    with pytest.raises(ValueError, match=message):
        WebServiceConfig(**{**GOOD, **change})


def test_secrets_stay_out_of_the_config_repr():
    config = WebServiceConfig(**GOOD, security_events_authorization="Bearer " + "z" * 40)
    assert "s3cret" not in repr(config) and "z" * 40 not in repr(config)
    assert "x" * 32 not in repr(config)
    assert config.security_events_uri == "https://cloud.example/security-events"


def test_a_service_keeps_its_entitlement():
    assert cloud.create_app(WebServiceConfig(**GOOD)).config["SERVICE"] \
        .required_entitlement == "cloud"
    with pytest.raises(ValueError, match="requires 'cloud'"):
        cloud.create_app(WebServiceConfig(**GOOD, required_entitlement="foot11"))
    with pytest.raises(ValueError, match="own entitlement"):
        portal.create_app(portal.PortalConfig(**GOOD, required_entitlement="bills",
                                              database_path="unused.db"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire():
    clock = Clock()
    store = SessionStore(idle=60, absolute=300, anonymous=30, clock=clock)
    anonymous, person = store.new_cookie_value(), store.new_cookie_value()
    store.save(anonymous, {"csrf_token": "t"}, create=True)
    store.save(person, {SUBJECT: "p", PROVIDER_SID: "s"}, create=True)
    clock.now += 31
    assert store.load(anonymous) is None and store.load(person) is not None
    for _ in range(5):  # used every 50 s: idle never reached, until the absolute limit
        clock.now += 50
        assert store.load(person) is not None
    clock.now += 50
    assert store.load(person) is None


def test_an_ended_session_is_not_brought_back():
    store = SessionStore()
    value = store.new_cookie_value()
    store.save(value, {SUBJECT: "p", PROVIDER_SID: "s"}, create=True)
    data = store.load(value)
    assert store.end(sid="s") == 1
    # A request that was running meanwhile saves its copy: it stays ended.
    assert not store.save(value, {**data, "csrf_token": "t"}, create=False)
    assert store.load(value) is None and len(store) == 0


def test_ending_by_sid_and_subject():
    store = SessionStore()
    values = [store.new_cookie_value() for _ in range(3)]
    store.save(values[0], {SUBJECT: "p", PROVIDER_SID: "s1"}, create=True)
    store.save(values[1], {SUBJECT: "p", PROVIDER_SID: "s2"}, create=True)
    store.save(values[2], {SUBJECT: "q", PROVIDER_SID: "s3"}, create=True)
    assert store.end(sid="s1", subject="q") == 0  # both must match
    assert store.end(sid="s1") == 1
    assert store.end(subject="p") == 1
    assert store.load(values[2]) is not None
    with pytest.raises(ValueError):
        store.end()


def signed_in(store: SessionStore, subject: str, number: str | None, at: int, **data) -> str:
    value = store.new_cookie_value()
    store.save(value, {SUBJECT: subject, PROVIDER_SID: f"sid-{at}", CUSTOMER_NUMBER: number,
                       SIGNED_IN_AT: at, CLAIMS_AS_OF: at, **data}, create=True)
    return value


def test_claims_changes_mark_the_sessions_of_that_person_and_customer():
    store = SessionStore()
    work = signed_in(store, "p", "123456789", 100)
    home = signed_in(store, "p", "987654321", 100)
    later = signed_in(store, "p", "123456789", 200)  # claims newer than the change
    other = signed_in(store, "q", "123456789", 100)
    assert store.mark_stale(subject="p", customer_number="123456789", as_of=150) == 1
    assert store.open(work).stale is not None
    assert {store.open(v).stale for v in (home, later, other)} == {None}
    assert store.mark_stale(subject="p") == 3  # no tenant, no time: all of the person's


def test_a_refresh_is_not_undone_by_an_older_copy():
    """A request that loaded the session before another request refreshed it
    saves its copy: the refreshed tokens stay, and so does a newer mark."""
    store = SessionStore()
    value = signed_in(store, "p", "123456789", 100, refresh_token="old", csrf_token="a")
    store.mark_stale(subject="p")
    older = store.open(value)  # a request under way
    mark = older.stale
    generation = store.refreshed(value, {"refresh_token": "new", CLAIMS_AS_OF: 160}, mark=mark)
    assert generation == older.generation + 1 and store.open(value).stale is None
    assert store.save(value, {**older.data, "csrf_token": "b"}, create=False,
                      generation=older.generation)
    data = store.load(value)
    assert data["refresh_token"] == "new" and data[CLAIMS_AS_OF] == 160
    assert data["csrf_token"] == "b"  # what that request changed itself stays
    # A change that came while the provider was asked keeps the session stale.
    store.mark_stale(subject="p")
    fresh = store.open(value)
    store.mark_stale(subject="p")
    store.refreshed(value, {"refresh_token": "newer"}, mark=fresh.stale)
    assert store.open(value).stale is not None
    store.end(subject="p")
    assert store.refreshed(value, {}, mark=None) is None


def test_a_revocation_ends_only_sessions_signed_in_by_then():
    store = SessionStore()
    before, after = signed_in(store, "p", None, 100), signed_in(store, "p", None, 200)
    assert store.end(subject="p", signed_in_by=150) == 1  # a late or replayed event
    assert store.load(before) is None and store.load(after) is not None


def test_a_session_a_logout_ended_is_told_once_and_for_a_while():
    clock = Clock()
    store = SessionStore(idle=60, clock=clock, keep_on_end=lambda data: data.get("language"))
    ended, deleted, other = (signed_in(store, "p", None, 100, language="nl"),
                             signed_in(store, "q", None, 100), signed_in(store, "r", None, 100))
    assert store.end(subject="p") == 1
    store.delete(deleted)  # ended here (a sign-out at this service, a refusal): nothing to tell
    assert store.take_ended(deleted) is None and store.take_ended(other) is None
    assert store.take_ended(ended).kept == "nl"
    assert store.take_ended(ended) is None  # told once
    late = signed_in(store, "s", None, 100)
    store.end(subject="s")
    clock.now += 61
    assert store.take_ended(late) is None  # long ago: just a sign-in
    assert store.take_ended(None) is None


def test_the_memory_of_ended_sessions_is_bounded(monkeypatch):
    monkeypatch.setattr(ended_sessions, "MAX_ENDED", 3)
    store = SessionStore()
    values = [signed_in(store, f"p{i}", None, 100) for i in range(5)]
    for i in range(5):
        store.end(subject=f"p{i}")
    assert [store.take_ended(v) is not None for v in values] == [False, False, True, True, True]


def test_cookie_values_are_not_kept_in_the_store():
    store = SessionStore()
    value = store.new_cookie_value()
    store.save(value, {}, create=True)
    assert value not in repr(vars(store))


def identity(**claims) -> Identity:
    return Identity.from_claims({"sub": "p", "iss": "https://id.example", "aud": "abc",
                                 "exp": 2_000_000_000, **claims}, client_id="abc")


@pytest.mark.parametrize(("claims", "entitlement", "expected"), [
    ({"customer_number": "123456789", "role": "user", "customer_type": "business"}, "cloud",
     "Become administrator"),
    ({"customer_number": "987654321", "role": "administrator",
      "customer_type": "residential"}, "onedrive", "Use another customer number"),
    ({"customer_number": "123456789", "role": "user", "customer_type": "business"},
     "usage:own_mobile", "register your own mobile"),
    ({"customer_number": "123456789", "role": "administrator", "customer_type": "business",
      "entitlements": []}, "cloud", "Sign in again"),
    ({}, "cloud", "not linked to a customer number"),
])
def test_advice(claims, entitlement, expected):
    app = create_service_app(WebServiceConfig(**GOOD))
    with app.test_request_context():
        advice = advice_for(identity(**claims), entitlement)
    assert len(advice) == 1
    assert expected in (advice[0].label or advice[0].text)
    assert isinstance(app, Flask)
