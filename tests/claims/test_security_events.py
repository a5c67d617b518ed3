"""SecurityEventVerifier and Receiver against a provider double on loopback
(RFC 8417, OpenID SSF 1.0, CAEP 1.0): a genuine SET gives its event and
subjects; each forged or misused token is refused with its error class and
the RFC 8935 code the transmitter is told; a repeated jti is dropped, a
failed handler is run again. Genuine SETs are made with joserfc, forgeries
signed by hand (provider_double.Minter.forge). Push and poll delivery are in
test_set_push.py and test_set_poll.py, which share the helpers of security_event_support.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import ECKey

from claims import (
    BadSignature,
    DisallowedAlgorithm,
    LogoutTokenVerifier,
    MalformedToken,
    NotYetValid,
    ProviderUnavailable,
    Receiver,
    SecurityEventVerifier,
    SetRejected,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from claims.security_event_types import (
    CREDENTIAL_CHANGE,
    INVALID_AUDIENCE,
    INVALID_ISSUER,
    INVALID_KEY,
    INVALID_REQUEST,
    INVALID_STATE,
    SESSION_REVOKED,
    STREAM_UPDATED,
    TOKEN_CLAIMS_CHANGE,
    VERIFICATION,
)
from tests.claims.provider_double import CLIENT_ID, SUBJECT, Minter, b64
from tests.claims.security_event_support import (  # and the fixtures they use
    CHANGE,
    CUSTOMER,
    SID,
    STREAM,
    Calls,
    person,
    receiver_fixture,  # noqa: F401
    reset_provider_double,  # noqa: F401
    security_event,
    served_double,  # noqa: F401
    set_claims,
    set_header,
    set_verifier_fixture,  # noqa: F401
)

# The helpers and fixtures are in security_event_support.py.


# -- the genuine SET --------------------------------------------------------------------

def test_a_token_claims_change(set_verifier, minter, key, provider_double):
    event = set_verifier.verify(security_event(minter, key))
    assert (event.jti, event.type, event.txn) == ("set-1", TOKEN_CLAIMS_CHANGE, "txn-1")
    assert event.issued_at == int(minter.clock())
    assert (event.user, event.tenant, event.session, event.stream_id) == \
        (SUBJECT, CUSTOMER, None, None)
    assert event.claims["role"] == "administrator"
    assert event.claims["entitlements"] == ("usage:all_mobiles",)  # read-only: a tuple
    assert event.subject == person(provider_double.url)
    assert event.issuer == provider_double.url
    assert json.loads(json.dumps({**event.body, "claims": dict(event.claims)})) == CHANGE


def test_the_event_is_read_only_all_the_way_down(set_verifier, minter, keys):
    event = set_verifier.verify(security_event(minter, keys.ec))
    with pytest.raises(TypeError):
        event.body["claims"]["role"] = "user"
    with pytest.raises(TypeError):
        event.subject["user"]["sub"] = "someone-else"
    with pytest.raises(AttributeError):
        event.claims.update(role="user")
    with pytest.raises(AttributeError):
        event.jti = "another"  # frozen


def test_a_membership_removed_is_a_null_claim(set_verifier, minter, keys):
    change = {**CHANGE, "claims": {"role": None, "entitlements": []}}
    event = set_verifier.verify(security_event(minter, keys.ec,
                                               events={TOKEN_CLAIMS_CHANGE: change}))
    assert "role" in event.claims and event.claims["role"] is None
    assert event.claims["entitlements"] == ()


def test_a_session_revoked(set_verifier, minter, keys, provider_double):
    body = {"event_timestamp": 1_700_000_000, "initiating_entity": "user"}
    event = set_verifier.verify(security_event(
        minter, keys.rsa, sub_id=person(provider_double.url, tenant=None, session=SID),
        events={SESSION_REVOKED: body}, txn=None))
    assert (event.type, event.user, event.session, event.tenant, event.txn) == \
        (SESSION_REVOKED, SUBJECT, SID, None, None)
    assert event.claims == {}  # only a token-claims-change has claims
    other = set_verifier.verify(security_event(
        minter, keys.rsa, jti="set-2", events={"urn:example:other": {"claims": {"role": "x"}}}))
    assert other.claims == {} and other.body["claims"] == {"role": "x"}


def test_a_credential_change_about_a_simple_subject(set_verifier, minter, keys,
                                                    provider_double):
    simple = {"format": "iss_sub", "iss": provider_double.url, "sub": SUBJECT}
    event = set_verifier.verify(security_event(
        minter, keys.ec, sub_id=simple,
        events={CREDENTIAL_CHANGE: {"credential_type": "password", "change_type": "update"}}))
    assert (event.user, event.tenant, event.session) == (SUBJECT, None, None)
    assert event.body["credential_type"] == "password"


@pytest.mark.parametrize("sub_id", [
    {"format": "iss_sub", "iss": "https://another.example", "sub": SUBJECT},
    {"format": "complex", "user": {"format": "iss_sub", "iss": "https://another.example",
                                   "sub": SUBJECT}},
    {"format": "complex", "user": {"format": "opaque", "id": SUBJECT}},
    {"format": "complex", "user": "person-mary"},
    {"format": "complex", "user": {"format": "iss_sub", "sub": SUBJECT}},
    {"format": "email", "email": "mary@example.com"},
    {"format": "complex", "tenant": {"format": "opaque", "id": CUSTOMER}},
], ids=["another-issuer", "complex-another-issuer", "opaque-user", "user-a-string",
        "no-iss", "email", "no-user"])
def test_no_person_of_our_issuer(set_verifier, minter, keys, sub_id):
    event = set_verifier.verify(security_event(minter, keys.ec, sub_id=sub_id))
    assert event.user is None


@pytest.mark.parametrize(("event_type", "body"), [
    (VERIFICATION, {"state": "c3RhdGU"}), (STREAM_UPDATED, {"status": "paused",
                                                           "reason": "Internal error"})])
def test_the_stream_events_name_the_stream(set_verifier, minter, keys, event_type, body):
    event = set_verifier.verify(security_event(
        minter, keys.ec, sub_id={"format": "opaque", "id": STREAM}, txn=None,
        events={event_type: body}))
    assert (event.type, event.stream_id, event.user, event.tenant) == \
        (event_type, STREAM, None, None)
    assert event.body == body


def test_only_a_stream_event_names_a_stream(set_verifier, minter, keys):
    event = set_verifier.verify(security_event(minter, keys.ec,
                                               sub_id={"format": "opaque", "id": STREAM}))
    assert event.stream_id is None and event.user is None


@pytest.mark.parametrize("typ", ["secevent+jwt", "SECEVENT+JWT", "application/secevent+jwt"])
def test_the_set_type_in_any_case_and_an_audience_among_several(set_verifier, minter, keys,
                                                                typ):
    token = security_event(minter, keys.rsa, typ=typ, aud=["someone-else", CLIENT_ID])
    assert set_verifier.verify(token).jti == "set-1"


# -- refusals: the error class and what the transmitter is told ------------------------

def assert_refused(set_verifier, receiver, token, error, err) -> SetRejected:
    with pytest.raises(error):
        set_verifier.verify(token)
    with pytest.raises(SetRejected) as caught:
        receiver.receive(token)
    assert caught.value.err == err
    assert type(caught.value.__cause__) is error
    assert caught.value.description == caught.value.__cause__.message
    return caught.value


@pytest.mark.parametrize(("overrides", "error", "err"), [
    ({"iat": None}, MalformedToken, INVALID_REQUEST),
    ({"iat": "now"}, MalformedToken, INVALID_REQUEST),
    ({"exp": 4_000_000_000}, WrongTokenType, INVALID_REQUEST),
    ({"sub": SUBJECT}, WrongTokenType, INVALID_REQUEST),
    ({"nonce": "n-0S6"}, WrongTokenType, INVALID_REQUEST),
    ({"jti": None}, MalformedToken, INVALID_REQUEST),
    ({"jti": ""}, MalformedToken, INVALID_REQUEST),
    ({"jti": 7}, MalformedToken, INVALID_REQUEST),
    ({"events": None}, WrongTokenType, INVALID_REQUEST),
    ({"events": [TOKEN_CLAIMS_CHANGE]}, WrongTokenType, INVALID_REQUEST),
    ({"events": TOKEN_CLAIMS_CHANGE}, WrongTokenType, INVALID_REQUEST),
    ({"events": {}}, MalformedToken, INVALID_REQUEST),
    ({"events": {TOKEN_CLAIMS_CHANGE: CHANGE, SESSION_REVOKED: {}}}, MalformedToken,
     INVALID_REQUEST),
    ({"events": {TOKEN_CLAIMS_CHANGE: "changed"}}, MalformedToken, INVALID_REQUEST),
    ({"events": {TOKEN_CLAIMS_CHANGE: [CHANGE]}}, MalformedToken, INVALID_REQUEST),
    ({"events": {"": CHANGE}}, MalformedToken, INVALID_REQUEST),
    ({"sub_id": None}, MalformedToken, INVALID_REQUEST),
    ({"sub_id": SUBJECT}, MalformedToken, INVALID_REQUEST),
    ({"sub_id": {"user": {"format": "opaque", "id": SUBJECT}}}, MalformedToken,
     INVALID_REQUEST),
    ({"sub_id": {"format": 7}}, MalformedToken, INVALID_REQUEST),
    ({"txn": 8675309}, MalformedToken, INVALID_REQUEST),
    ({"txn": ["t"]}, MalformedToken, INVALID_REQUEST),
    ({"aud": [CLIENT_ID, 7]}, MalformedToken, INVALID_REQUEST),
    ({"iss": "https://attacker.example"}, WrongIssuer, INVALID_ISSUER),
    ({"iss": None}, WrongIssuer, INVALID_ISSUER),
    ({"aud": "another-client"}, WrongAudience, INVALID_AUDIENCE),
    ({"aud": ["another-client"]}, WrongAudience, INVALID_AUDIENCE),
    ({"aud": None}, WrongAudience, INVALID_AUDIENCE),
], ids=lambda value: json.dumps(value) if isinstance(value, dict) else getattr(
    value, "__name__", value))
def test_claims_that_are_refused(set_verifier, receiver, minter, keys, overrides, error, err):
    handled = Calls()
    receiver.on(TOKEN_CLAIMS_CHANGE, handled)
    assert_refused(set_verifier, receiver, security_event(minter, keys.ec, **overrides), error,
                   err)
    assert handled == []


def test_a_txn_that_is_null_is_refused(set_verifier, receiver, minter, keys):
    token = Minter.forge(set_header(keys.ec), {**set_claims(minter), "txn": None}, keys.ec)
    assert_refused(set_verifier, receiver, token, MalformedToken, INVALID_REQUEST)


def test_the_provider_as_audience_is_refused(set_verifier, receiver, minter, keys,
                                             provider_double):
    token = security_event(minter, keys.ec, aud=provider_double.url)
    assert_refused(set_verifier, receiver, token, WrongAudience, INVALID_AUDIENCE)


def test_issued_in_the_future(set_verifier, receiver, minter, keys, clock):
    """60 s of leeway for clocks, and not a second more; an old SET is fine: it
    has no expiry, and a poll may bring it days later."""
    now = int(clock())
    assert set_verifier.verify(security_event(minter, keys.ec, iat=now + 60))
    assert set_verifier.verify(security_event(minter, keys.ec, iat=now - 30 * 24 * 3600))
    assert_refused(set_verifier, receiver, security_event(minter, keys.ec, iat=now + 61),
                   NotYetValid, INVALID_REQUEST)


@pytest.mark.parametrize("typ", [None, "JWT", "logout+jwt", "at+jwt", "secevent"])
def test_a_set_must_say_what_it_is(set_verifier, receiver, minter, keys, provider_double,
                                   typ):
    refused = assert_refused(set_verifier, receiver, security_event(minter, keys.ec, typ=typ),
                             WrongTokenType, INVALID_REQUEST)
    assert "secevent+jwt" in refused.description
    assert provider_double.hits["/jwks.json"] == 0  # refused on its header, before any key


def test_the_providers_other_tokens_are_not_sets_even_typed_as_one(set_verifier, receiver,
                                                                   minter, keys):
    """What the provider signs besides SETs all carries ``exp``: typed as a SET
    by mistake or malice, it is still refused."""
    access = minter.claims(aud=CLIENT_ID, events={TOKEN_CLAIMS_CHANGE: CHANGE},
                           sub_id=person(minter.issuer))
    now = int(minter.clock())
    logout = {"iss": minter.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
              "jti": "logout-1", "sid": SID,
              "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
              "sub_id": person(minter.issuer)}
    for claims in (access, logout):
        refused = assert_refused(set_verifier, receiver,
                                 Minter.forge(set_header(keys.ec), claims, keys.ec),
                                 WrongTokenType, INVALID_REQUEST)
        assert "'exp'" in refused.description


def test_a_set_is_neither_an_access_token_nor_a_logout_token(verifier, provider_double, minter,
                                                             keys, clock):
    token = security_event(minter, keys.ec)
    with pytest.raises(WrongTokenType):
        verifier.verify_access_token(token)
    with pytest.raises(WrongTokenType):
        LogoutTokenVerifier(provider_double.url, client_id=CLIENT_ID, clock=clock).verify(token)


def test_an_unknown_kid(set_verifier, receiver, minter, keys, provider_double):
    assert set_verifier.verify(security_event(minter, keys.ec))
    assert_refused(set_verifier, receiver, security_event(minter, keys.attacker), UnknownKey,
                   INVALID_KEY)
    assert provider_double.hits["/jwks.json"] == 2  # one refetch for it, rate-limited after


def test_a_bad_signature(set_verifier, receiver, minter, keys, key):
    impostor = ECKey.generate_key("P-256", {"kid": keys.ec.kid}, private=True)
    assert_refused(set_verifier, receiver, security_event(minter, impostor), BadSignature,
                   INVALID_KEY)
    header, _, signature = security_event(minter, key).split(".")
    widened = b64(json.dumps(set_claims(minter, aud=[CLIENT_ID, "another"])).encode())
    assert_refused(set_verifier, receiver, f"{header}.{widened}.{signature}", BadSignature,
                   INVALID_KEY)


def test_disallowed_algorithms(set_verifier, receiver, minter, keys, provider_double):
    claims = b64(json.dumps(set_claims(minter)).encode())
    unsigned = f"{b64(json.dumps(set_header(keys.ec, alg='none')).encode())}.{claims}."
    secret = keys.rsa.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64(json.dumps(set_header(keys.rsa, alg='HS256')).encode())}.{claims}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    for token in (unsigned, f"{signing_input}.{b64(mac)}"):
        assert_refused(set_verifier, receiver, token, DisallowedAlgorithm, INVALID_KEY)
    assert provider_double.hits["/jwks.json"] == 0
    # An RSA key's kid on an ES256 signature.
    mixed = Minter.forge(set_header(keys.attacker, kid=keys.rsa.kid), set_claims(minter),
                         keys.attacker)
    assert_refused(set_verifier, receiver, mixed, DisallowedAlgorithm, INVALID_KEY)


@pytest.mark.parametrize("members", [{"jku": "https://attacker.example/jwks.json"},
                                     {"crit": ["exp"]}], ids=["jku", "crit"])
def test_a_header_that_brings_its_own_key(set_verifier, receiver, minter, keys, members):
    token = Minter.forge(set_header(keys.attacker, **members), set_claims(minter),
                         keys.attacker)
    assert_refused(set_verifier, receiver, token, MalformedToken, INVALID_REQUEST)


@pytest.mark.parametrize("token", [None, "", 42, b"a.b.c", "not.a.set", "a.b", "e30.e30.e30"])
def test_garbage(set_verifier, receiver, token):
    assert_refused(set_verifier, receiver, token, MalformedToken, INVALID_REQUEST)


def test_keys_that_cannot_be_fetched_are_not_a_refusal(receiver, minter, keys, provider_double,
                                                       clock):
    handled = Calls()
    receiver.on(TOKEN_CLAIMS_CHANGE, handled)
    token = security_event(minter, keys.ec)
    provider_double.jwks_status = 500
    with pytest.raises(ProviderUnavailable):
        receiver.receive(token)  # not SetRejected: the transmitter must send it again
    provider_double.jwks_status = 200
    clock.advance(31)  # past the refetch interval
    assert receiver.receive(token).jti == "set-1"  # not remembered when it failed
    assert [event.jti for event in handled] == ["set-1"]


def test_set_rejected_from_any_other_refusal():
    assert SetRejected.from_error(NotYetValid()).err == INVALID_REQUEST
    rejected = SetRejected.from_error(WrongIssuer("Not ours."))
    assert (rejected.err, rejected.description, str(rejected)) == \
        (INVALID_ISSUER, "Not ours.", "invalid_issuer: Not ours.")


# -- the receiver -----------------------------------------------------------------------

def test_handlers_run_in_order_for_their_type_only(receiver, minter, keys):
    order = []
    receiver.on(TOKEN_CLAIMS_CHANGE, lambda event: order.append(("first", event.jti)))
    receiver.on(SESSION_REVOKED, lambda event: order.append(("revoked", event.jti)))
    receiver.on(TOKEN_CLAIMS_CHANGE, lambda event: order.append(("second", event.user)))
    event = receiver.receive(security_event(minter, keys.ec))
    assert event.type == TOKEN_CLAIMS_CHANGE
    assert order == [("first", "set-1"), ("second", SUBJECT)]


def test_an_event_nobody_handles_is_accepted(receiver, minter, keys):
    handled = Calls()
    receiver.on(TOKEN_CLAIMS_CHANGE, handled)
    event = receiver.receive(security_event(minter, keys.ec,
                                            events={"urn:example:unknown": {"x": 1}}))
    assert event.type == "urn:example:unknown" and handled == []
    assert receiver.receive(security_event(minter, keys.ec,
                                           events={"urn:example:unknown": {}})) is None


def test_a_repeated_jti_is_dropped(receiver, minter, keys, clock):
    handled = Calls()
    receiver.on(TOKEN_CLAIMS_CHANGE, handled)
    assert receiver.receive(security_event(minter, keys.ec)).jti == "set-1"
    assert receiver.receive(security_event(minter, keys.ec)) is None
    clock.advance(5)  # another token, the same jti: a redelivery is not always byte for byte
    assert receiver.receive(security_event(minter, keys.rsa)) is None
    assert receiver.receive(security_event(minter, keys.ec, jti="set-2")).jti == "set-2"
    assert [event.jti for event in handled] == ["set-1", "set-2"]


def test_a_failed_handler_runs_again_on_the_retry(receiver, minter, keys):
    calls, failures = [], [RuntimeError("database down")]

    def flaky(event):
        calls.append("flaky")
        if failures:
            raise failures.pop()

    receiver.on(TOKEN_CLAIMS_CHANGE, lambda event: calls.append("first"))
    receiver.on(TOKEN_CLAIMS_CHANGE, flaky)
    token = security_event(minter, keys.ec)
    with pytest.raises(RuntimeError, match="database down"):
        receiver.receive(token)
    assert receiver.receive(token).jti == "set-1"  # not remembered: it ran again
    assert receiver.receive(token) is None  # now it is
    assert calls == ["first", "flaky", "first", "flaky"]


def test_a_handler_may_refuse_the_event(receiver, minter, keys, provider_double):
    def check_state(event):
        if event.body.get("state") != "expected":
            raise SetRejected(INVALID_STATE, "Not the state this receiver asked for.")

    receiver.on(VERIFICATION, check_state)
    stream = {"format": "opaque", "id": STREAM}
    unexpected = security_event(minter, keys.ec, sub_id=stream,
                                events={VERIFICATION: {"state": "forged"}})
    with pytest.raises(SetRejected) as caught:
        receiver.receive(unexpected)
    assert caught.value.err == INVALID_STATE
    expected = security_event(minter, keys.ec, sub_id=stream, jti="set-2",
                              events={VERIFICATION: {"state": "expected"}})
    assert receiver.receive(expected).stream_id == STREAM


def test_jtis_are_remembered_for_remember_seconds(set_verifier, minter, keys, clock):
    receiver = Receiver(set_verifier, remember_seconds=3600, clock=clock)
    token = security_event(minter, keys.ec)
    assert receiver.receive(token)
    clock.advance(3599)
    assert receiver.receive(token) is None
    clock.advance(1)
    assert receiver.receive(token) is not None  # forgotten: taken again


def test_memory_is_bounded_oldest_forgotten_first(set_verifier, minter, keys, clock):
    receiver = Receiver(set_verifier, max_remembered=2, clock=clock)
    tokens = {jti: security_event(minter, keys.ec, jti=jti) for jti in ("a", "b", "c")}
    for jti in ("a", "b", "c"):
        assert receiver.receive(tokens[jti]).jti == jti
    assert receiver.receive(tokens["c"]) is None
    assert receiver.receive(tokens["a"]) is not None  # the oldest was forgotten...
    assert receiver.receive(tokens["b"]) is not None  # ...and, to make room for "a", "b"
    assert receiver.receive(tokens["a"]) is None


def test_one_delivery_at_a_time_per_jti(receiver, minter, keys):
    """The same SET delivered concurrently (a push retried while the first is
    still being handled) runs the handlers once."""
    running, most, calls = [0], [0], []
    lock = threading.Lock()

    def slow(event):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            calls.append(event.jti)
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    receiver.on(TOKEN_CLAIMS_CHANGE, slow)
    token = security_event(minter, keys.ec)
    results = []
    threads = [threading.Thread(target=lambda: results.append(receiver.receive(token)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert calls == ["set-1"] and most[0] == 1
    assert sorted(result is None for result in results) == [False] + [True] * 5


def test_a_concurrent_delivery_waits_and_runs_again_if_the_first_fails(receiver, minter, keys):
    release, running, most, outcomes = threading.Event(), [0], [0], {}
    lock = threading.Lock()

    def handler(event):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            first = "first" not in outcomes
            outcomes.setdefault("first", "started")
        try:
            if first:
                release.wait(timeout=10)
                raise RuntimeError("first delivery failed")
        finally:
            with lock:
                running[0] -= 1

    receiver.on(TOKEN_CLAIMS_CHANGE, handler)
    token = security_event(minter, keys.ec)

    def deliver(name):
        try:
            outcomes[name] = receiver.receive(token)
        except RuntimeError as error:
            outcomes[name] = error

    first = threading.Thread(target=deliver, args=("one",))
    first.start()
    while "first" not in outcomes:
        time.sleep(0.005)
    second = threading.Thread(target=deliver, args=("two",))
    second.start()
    time.sleep(0.1)  # the second is waiting for the first
    assert "two" not in outcomes
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert isinstance(outcomes["one"], RuntimeError)
    assert outcomes["two"].jti == "set-1"  # ran again, after the first, not alongside it
    assert most[0] == 1


def test_configuration_is_checked_at_start_up(provider_double, set_verifier):
    with pytest.raises(ValueError, match="audience"):
        SecurityEventVerifier(provider_double.url, audience="")
    with pytest.raises(ValueError, match="algorithms"):
        SecurityEventVerifier(provider_double.url, audience=CLIENT_ID, algorithms=("HS256",))
    with pytest.raises(ValueError):
        Receiver(set_verifier, remember_seconds=0)
    with pytest.raises(ValueError):
        Receiver(set_verifier, max_remembered=0)
    with pytest.raises(ValueError):
        Receiver(set_verifier).on(TOKEN_CLAIMS_CHANGE, "not callable")
    assert repr(set_verifier) == \
        f"SecurityEventVerifier({provider_double.url!r}, audience={CLIENT_ID!r})"
