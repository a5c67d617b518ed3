"""The Introspector against a provider double on loopback: what it sends, how
it fails closed, and its cache (bounded, never past ``exp`` nor
``cache_seconds``, inactive answers not kept). The real provider is in
tests/provider/test_relying_party_toolkit.py."""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import replace
from urllib.parse import parse_qs

import pytest

from claims import (
    InactiveToken,
    Introspector,
    ProviderUnavailable,
    WrongIssuer,
    WrongTokenType,
)
from claims.vocabulary import Role
from tests.claims.provider_double import CLIENT_ID, SUBJECT

SECRET = "s3cret:with%odd/chars"


@pytest.fixture
def active(provider_double, clock) -> dict:
    answer = {"active": True, "iss": provider_double.url, "sub": SUBJECT, "client_id": CLIENT_ID,
              "aud": [CLIENT_ID], "exp": int(clock()) + 300, "iat": int(clock()),
              "scope": "openid customer", "token_type": "Bearer", "role": "user",
              "customer_number": "123456789", "customer_type": "business",
              "entitlements": ["usage:own_mobile"]}
    provider_double.introspection = (200, answer)
    return answer


@pytest.fixture
def introspector(provider_double, clock) -> Introspector:
    return Introspector(provider_double.url, "usage-api", SECRET, clock=clock)


def posts(provider_double) -> int:
    return provider_double.hits["/introspect"]


def test_an_active_token_becomes_an_identity(introspector, provider_double, active):
    identity = introspector.introspect("the-token")
    assert identity.subject == SUBJECT and identity.client_id == CLIENT_ID
    assert identity.role is Role.USER and identity.entitlements == {"usage:own_mobile"}
    assert identity.issuer == provider_double.url
    request = provider_double.recorded[-1]
    assert request.method == "POST" and request.path == "/introspect"
    assert parse_qs(request.body.decode()) == {"token": ["the-token"],
                                              "token_type_hint": ["access_token"]}
    # client_secret_basic: id and secret form-encoded, then Basic (RFC 6749 §2.3.1).
    scheme, credentials = request.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == "usage-api:s3cret%3Awith%25odd%2Fchars"
    assert provider_double.hits["/.well-known/openid-configuration"] == 1


def test_the_secret_is_not_in_the_repr(introspector):
    assert SECRET not in repr(introspector) and "usage-api" in repr(introspector)


def test_inactive_is_refused_and_not_cached(introspector, provider_double):
    for _ in range(3):
        with pytest.raises(InactiveToken):
            introspector.introspect("revoked")
    assert posts(provider_double) == 3


# The provider leaves token_type out for a refresh token (RFC 7662 §2.2 means an
# access token's type); other providers may say "refresh_token".
@pytest.mark.parametrize("token_type", [None, "refresh_token", ""])
def test_a_refresh_token_is_not_a_bearer_token(introspector, provider_double, active,
                                               token_type):
    answer = {k: v for k, v in active.items() if k != "token_type"}
    if token_type is not None:
        answer["token_type"] = token_type
    provider_double.introspection = (200, answer)
    with pytest.raises(WrongTokenType):
        introspector.introspect("a-refresh-token")


def test_an_answer_for_another_issuer(introspector, provider_double, active):
    provider_double.introspection = (200, {**active, "iss": "https://attacker.example"})
    with pytest.raises(WrongIssuer):
        introspector.introspect("t")


@pytest.mark.parametrize(("status", "body"), [
    (500, {"active": True}), (502, b"<html>bad gateway</html>"), (200, b"not json"),
    (200, {"active": "yes"}), (200, {}), (200, b"[true]"), (404, {"active": True}),
    (401, {"error": "invalid_client"}), (302, b""),
], ids=["500", "502-html", "text", "active-text", "no-active", "array", "404", "401",
        "redirect"])
def test_garbage_and_errors_fail_closed(introspector, provider_double, status, body):
    provider_double.introspection = (status, body)
    with pytest.raises(ProviderUnavailable):
        introspector.introspect("t")


def test_provider_down_fails_closed(provider_double, clock):
    introspector = Introspector(provider_double.url, "usage-api", SECRET, clock=clock,
                                introspection_endpoint=f"{provider_double.url}/introspect")
    provider_double.stop()
    with pytest.raises(ProviderUnavailable):
        introspector.introspect("t")


def test_the_cache_keeps_an_answer_for_cache_seconds(introspector, provider_double, active,
                                                     clock):
    assert introspector.introspect("t").subject == SUBJECT
    provider_double.introspection = (200, {"active": False})  # revoked meanwhile
    clock.advance(29)
    assert introspector.introspect("t").subject == SUBJECT  # the price of the cache
    clock.advance(1)
    with pytest.raises(InactiveToken):
        introspector.introspect("t")
    assert posts(provider_double) == 2


def test_the_cache_never_outlives_the_token(introspector, provider_double, active, clock):
    provider_double.introspection = (200, {**active, "exp": int(clock()) + 5})
    introspector.introspect("t")
    clock.advance(5)
    introspector.introspect("t")
    assert posts(provider_double) == 2


def test_the_cache_is_bounded_least_recently_used_first(provider_double, active, clock):
    small = Introspector(provider_double.url, "usage-api", SECRET, clock=clock, cache_size=2)
    for token in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
        small.introspect(token)
    assert posts(provider_double) == 3
    small.introspect("a")
    small.introspect("c")
    assert posts(provider_double) == 3
    small.introspect("b")
    assert posts(provider_double) == 4


def test_no_cache(provider_double, active, clock):
    uncached = Introspector(provider_double.url, "usage-api", SECRET, clock=clock, cache_size=0)
    uncached.introspect("t")
    uncached.introspect("t")
    assert posts(provider_double) == 2


@pytest.mark.parametrize("token", ["", "x" * 9000, None])
def test_what_cannot_be_a_token_is_not_sent(introspector, provider_double, token):
    with pytest.raises(InactiveToken):
        introspector.introspect(token)
    assert posts(provider_double) == 0


def test_configuration_is_checked_at_start_up(provider_double):
    with pytest.raises(ValueError):
        Introspector(provider_double.url, "usage-api", "")
    with pytest.raises(ValueError):
        Introspector(provider_double.url, "usage-api", SECRET, cache_size=-1)


# -- forget(): a person's answers dropped at once (a security event about them) ---------

def answer_for(provider_double, active, subject: str) -> None:
    provider_double.introspection = (200, {**active, "sub": subject})


def test_forget_drops_a_persons_answers_only(introspector, provider_double, active):
    introspector.introspect("mary-1")
    introspector.introspect("mary-2")
    answer_for(provider_double, active, "person-john")
    introspector.introspect("john-1")
    assert posts(provider_double) == 3
    assert introspector.forget(SUBJECT) == 2
    assert introspector.forget(SUBJECT) == 0
    assert introspector.introspect("john-1").subject == "person-john"  # still cached
    assert posts(provider_double) == 3
    assert introspector.introspect("mary-1").subject == "person-john"  # asked again
    assert posts(provider_double) == 4
    assert introspector.forget("person-nobody") == 0


def test_forget_after_eviction_and_expiry_counts_what_is_cached(provider_double, active, clock):
    small = Introspector(provider_double.url, "usage-api", SECRET, clock=clock, cache_size=2)
    small.introspect("mary-1")
    answer_for(provider_double, active, "person-john")
    small.introspect("john-1")
    answer_for(provider_double, active, SUBJECT)
    small.introspect("mary-2")  # "mary-1", the least recently used, goes
    assert small.forget(SUBJECT) == 1
    small.introspect("mary-2")
    clock.advance(30)  # expired: dropped when next looked up, then answered again
    small.introspect("mary-2")
    assert small.forget(SUBJECT) == 1
    assert small.forget("person-john") == 0  # expired too: removed, not counted
    assert small.forget("person-john") == 0
    assert len(small._cache) == 0 and small._by_subject == {}
    assert posts(provider_double) == 5


def test_forget_after_an_answer_expired_and_the_token_was_revoked(introspector,
                                                                  provider_double, active,
                                                                  clock):
    introspector.introspect("mary-1")
    clock.advance(30)
    provider_double.introspection = (200, {"active": False})
    with pytest.raises(InactiveToken):
        introspector.introspect("mary-1")  # the expired answer is dropped, none kept
    assert introspector.forget(SUBJECT) == 0


def test_the_newer_of_two_answers_for_one_token_stays(introspector, provider_double, active):
    """Two requests with one token that both missed the cache: the second
    answer replaces the first, in the index too."""
    introspector.introspect("t")
    key = hashlib.sha256(b"t").digest()
    john = replace(introspector.introspect("t"), subject="person-john")
    introspector._remember(key, john)
    assert introspector.introspect("t") is john
    assert introspector.forget(SUBJECT) == 0
    assert introspector.forget("person-john") == 1


def test_forget_lets_the_cache_fill_again(provider_double, active, clock):
    small = Introspector(provider_double.url, "usage-api", SECRET, clock=clock, cache_size=2)
    for token in ("a", "b", "a", "b"):
        small.introspect(token)
    assert small.forget(SUBJECT) == 2
    for token in ("c", "d", "c", "d"):
        small.introspect(token)
    assert posts(provider_double) == 4  # "c" and "d" cached: the forgotten left room
    assert small.forget(SUBJECT) == 2


def test_forget_while_answers_come_in(provider_double, active, clock):
    cache = Introspector(provider_double.url, "usage-api", SECRET, clock=clock, cache_size=8,
                         introspection_endpoint=f"{provider_double.url}/introspect")
    errors = []

    def use(name):
        try:
            for round_ in range(15):
                cache.introspect(f"{name}-{round_ % 10}")
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=use, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    forgotten = 0
    while any(thread.is_alive() for thread in threads):
        forgotten += cache.forget(SUBJECT)
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert forgotten + cache.forget(SUBJECT) <= 4 * 15
    assert cache.forget(SUBJECT) == 0 and len(cache._cache) == 0 == len(cache._by_subject)
