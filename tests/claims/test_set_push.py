"""The push endpoint (RFC 8935) in a real Flask app, driven by its test
client: what it answers (status, body, headers) to the provider's SETs, to
forgeries, to requests that are not a SET delivery, and when the keys
cannot be fetched or a handler fails; and that it never logs a SET."""

from __future__ import annotations

import io
import logging

import pytest
from flask import Flask

from claims import SetRejected
from claims.security_event_types import (
    AUTHENTICATION_FAILED,
    INVALID_AUDIENCE,
    INVALID_ISSUER,
    INVALID_KEY,
    INVALID_REQUEST,
    INVALID_STATE,
    TOKEN_CLAIMS_CHANGE,
    VERIFICATION,
)
from claims.set_push import MAX_BODY, push_endpoint
from tests.claims.security_event_support import (  # and the fixtures they use
    STREAM,
    handled_fixture,  # noqa: F401
    receiver_fixture,  # noqa: F401
    reset_provider_double,  # noqa: F401
    security_event,
    served_double,  # noqa: F401
    set_verifier_fixture,  # noqa: F401
)

AUTHORIZATION = "Bearer stream-secret-0123456789"
SET_TYPE = "application/secevent+jwt"  # written out: the contract, not our constant


@pytest.fixture
def client(receiver):
    app = Flask(__name__)
    app.add_url_rule("/ssf/events", view_func=push_endpoint(receiver,
                                                            authorization=AUTHORIZATION))
    return app.test_client()


def push(client, body, *, content_type=SET_TYPE, authorization=AUTHORIZATION, **headers):
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.post("/ssf/events", data=body, content_type=content_type, headers=headers)


def assert_error(response, status: int, err: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["err"] == err and isinstance(body["description"], str)
    return body


def assert_empty(response, status: int) -> None:
    assert response.status_code == status
    assert response.data == b"" and "Content-Type" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


# -- taken ------------------------------------------------------------------------------

def test_a_set_is_taken_with_202_and_an_empty_body(client, handled, minter, key):
    assert_empty(push(client, security_event(minter, key)), 202)
    assert [event.jti for event in handled] == ["set-1"]


def test_a_repeat_is_acknowledged_but_not_handled_again(client, handled, minter, keys):
    token = security_event(minter, keys.ec)
    for _ in range(3):
        assert_empty(push(client, token), 202)
    assert len(handled) == 1


@pytest.mark.parametrize("content_type", ["application/secevent+jwt; charset=us-ascii",
                                          "Application/SecEvent+JWT"])
def test_the_media_type_with_parameters_in_any_case(client, handled, minter, keys,
                                                    content_type):
    assert_empty(push(client, security_event(minter, keys.ec), content_type=content_type), 202)
    assert len(handled) == 1


def test_the_body_may_be_16_kib_whitespace_included(client, handled, minter, keys):
    token = security_event(minter, keys.ec)
    padded = token + "\r\n" + " " * (MAX_BODY - len(token) - 2)
    assert len(padded) == MAX_BODY == 16 * 1024
    assert_empty(push(client, padded), 202)
    body = assert_error(push(client, padded + " "), 400, INVALID_REQUEST)
    assert "16384 bytes" in body["description"]
    assert len(handled) == 1


def test_a_body_of_unknown_length_is_read_up_to_the_bound(client, handled, minter, keys):
    """Chunked (no Content-Length): the server's stream ends the body, and more
    than 16 KiB is not read."""
    token = security_event(minter, keys.ec)
    for body, status in ((token, 202), (token + " " * MAX_BODY, 400)):
        response = client.post("/ssf/events", input_stream=io.BytesIO(body.encode()),
                               content_type=SET_TYPE,
                               headers={"Authorization": AUTHORIZATION},
                               environ_overrides={"wsgi.input_terminated": True,
                                                  "CONTENT_LENGTH": ""})
        assert response.status_code == status
    assert len(handled) == 1


def test_without_configured_authorization_any_caller_may_deliver(receiver, handled, minter,
                                                                 keys):
    app = Flask(__name__)
    app.add_url_rule("/ssf/events", view_func=push_endpoint(receiver))
    assert_empty(push(app.test_client(), security_event(minter, keys.ec), authorization=None),
                 202)
    assert len(handled) == 1


# -- not a SET delivery -------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [
    None, "", "Bearer stream-secret-012345678", AUTHORIZATION + "0", AUTHORIZATION.lower(),
    "Basic c3RyZWFtOnNlY3JldA==", AUTHORIZATION.replace("0", "\u00f8")],
    ids=["missing", "empty", "prefix", "longer", "lower-case", "basic", "non-ascii"])
def test_not_the_streams_authorization(client, handled, minter, keys, provider_double,
                                       authorization):
    response = push(client, security_event(minter, keys.ec), authorization=authorization)
    body = assert_error(response, 401, AUTHENTICATION_FAILED)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "stream-secret" not in response.get_data(as_text=True)
    assert handled == [] and provider_double.hits["/jwks.json"] == 0
    assert "Authorization" in body["description"]


def test_the_secret_of_another_scheme_is_not_a_challenge(receiver):
    app = Flask(__name__)
    app.add_url_rule("/ssf/events", view_func=push_endpoint(receiver, authorization="s3cret"))
    response = push(app.test_client(), "x", authorization="wrong")
    assert response.status_code == 401 and "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("content_type", ["application/json", "application/jwt", "text/plain",
                                          "application/x-www-form-urlencoded", None])
def test_not_the_set_media_type(client, handled, minter, keys, provider_double, content_type):
    body = assert_error(push(client, security_event(minter, keys.ec), content_type=content_type),
                        400, INVALID_REQUEST)
    assert "application/secevent+jwt" in body["description"]
    assert handled == [] and provider_double.hits["/jwks.json"] == 0


@pytest.mark.parametrize("body", [b"", b"  \n", "é.é.é".encode(), b"\xff" * 10],
                         ids=["empty", "blank", "utf-8", "binary"])
def test_a_body_that_cannot_be_a_set(client, provider_double, body):
    assert_error(push(client, body), 400, INVALID_REQUEST)
    assert provider_double.hits["/jwks.json"] == 0


def test_only_post(client, receiver):
    assert client.get("/ssf/events").status_code == 405  # the rule is POST only
    app = Flask(__name__)
    app.add_url_rule("/ssf/events", view_func=push_endpoint(receiver),
                     methods=["GET", "POST", "PUT"])
    for method in ("get", "put"):
        response = getattr(app.test_client(), method)("/ssf/events")
        assert_empty(response, 405)
        assert response.headers["Allow"] == "POST"


# -- refused --------------------------------------------------------------------------------

@pytest.mark.parametrize(("forgery", "err"), [
    (lambda minter, keys: security_event(minter, keys.attacker), INVALID_KEY),
    (lambda minter, keys: security_event(minter, keys.ec, iss="https://attacker.example"),
     INVALID_ISSUER),
    (lambda minter, keys: security_event(minter, keys.ec, aud="another-client"),
     INVALID_AUDIENCE),
    (lambda minter, keys: security_event(minter, keys.ec, exp=4_000_000_000), INVALID_REQUEST),
    (lambda minter, keys: security_event(minter, keys.ec, typ="JWT"), INVALID_REQUEST),
    (lambda minter, keys: "not.a.set", INVALID_REQUEST),
], ids=["unknown-key", "issuer", "audience", "exp", "typ", "garbage"])
def test_a_refused_set_is_400_with_its_code(client, handled, minter, keys, forgery, err,
                                            caplog):
    token = forgery(minter, keys)
    with caplog.at_level(logging.DEBUG):
        body = assert_error(push(client, token), 400, err)
    assert set(body) == {"err", "description"}
    assert handled == []
    assert token not in caplog.text


def test_a_handler_may_refuse_with_its_own_code(client, receiver, minter, keys):
    def check_state(event):
        raise SetRejected(INVALID_STATE, "Not the state this receiver asked for.")

    receiver.on(VERIFICATION, check_state)
    token = security_event(minter, keys.ec, sub_id={"format": "opaque", "id": STREAM},
                           events={VERIFICATION: {"state": "forged"}})
    body = assert_error(push(client, token), 400, INVALID_STATE)
    assert body["description"] == "Not the state this receiver asked for."


# -- not taken: delivered again later ------------------------------------------------------

def test_keys_that_cannot_be_fetched_are_503(client, handled, minter, keys, provider_double,
                                              clock):
    token = security_event(minter, keys.ec)
    provider_double.jwks_status = 500
    assert_empty(push(client, token), 503)
    provider_double.jwks_status = 200
    clock.advance(31)  # past the refetch interval: the provider's retry
    assert_empty(push(client, token), 202)
    assert len(handled) == 1


def test_a_failing_handler_is_500_and_logged_by_its_class_only(client, receiver, minter, keys,
                                                               caplog):
    failures = [KeyError("person-mary's row")]
    calls = []

    def flaky(event):
        calls.append(event.jti)
        if failures:
            raise failures.pop()

    receiver.on(TOKEN_CLAIMS_CHANGE, flaky)
    token = security_event(minter, keys.ec)
    with caplog.at_level(logging.DEBUG, logger="claims"):
        assert_empty(push(client, token), 500)
    assert "KeyError" in caplog.text
    assert "person-mary" not in caplog.text and token not in caplog.text
    assert_empty(push(client, token), 202)  # the retry runs it again
    assert calls == ["set-1", "set-1"]


def test_configuration_is_checked_at_start_up(receiver):
    for authorization in ("", "  ", "Bearer s\u00e9cret", "Bearer a\nb"):
        with pytest.raises(ValueError, match="authorization"):
            push_endpoint(receiver, authorization=authorization)
