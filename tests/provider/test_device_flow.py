"""The device authorization grant (RFC 8628) for TV boxes: the code on the
screen, the verification page, approval, polling, one redemption."""

import secrets
import time

import jwt as pyjwt
import pytest
import requests
from sqlalchemy import update

from claims.policy import entitlements_for
from claims.vocabulary import Channel, CustomerType, Role
from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.pages.device import WRONG_CODES
from idp.protocol.grants.device_code import INTERVAL, LIFETIME
from idp.protocol.tokens.models import DeviceAuthorization
from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

BY_NAME = {p.name: p for p in PEOPLE}
PHILIP, THOMAS = BY_NAME["Philip Smith"], BY_NAME["Thomas Taylor"]
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The pages speak the person's saved language: Philip's is Dutch, Thomas's English.
CONNECT = {"en": "Connect your TV", "nl": "Uw tv verbinden"}
ALLOW = {"en": "Allow TV?", "nl": "TV toestaan?"}


@pytest.fixture
def tv(provider):
    return provider.register("TV", "device", redirect_uris=[])


def start(provider, tv, scope="openid profile customer"):
    response = requests.post(f"{provider.url}/device_authorization", timeout=10,
                             data={"client_id": tv.client_id, "scope": scope})
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()


def poll(provider, tv, device_code):
    return requests.post(f"{provider.url}/token", timeout=10, data={
        "grant_type": GRANT, "device_code": device_code, "client_id": tv.client_id})


def error_of(response, status=400) -> str:
    """The error code of a token-endpoint error, after its exact status."""
    assert response.status_code == status, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()["error"]


def tokens_of(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def waited_its_interval(provider):
    with database.new_session(provider.app) as session:
        session.execute(update(DeviceAuthorization).values(last_polled_at=None))
        session.commit()


def approve(provider, device, person, decision="allow", customer=None):
    agent = UserAgent(provider.url)
    first = agent.get(device["verification_uri_complete"])
    page = agent.follow(first, email=person.email, password=person.password)
    assert CONNECT[person.locale] in page.text and device["user_code"] in page.text
    confirm = agent.submit(page, {"user_code": device["user_code"]})
    assert confirm.status_code == 200 and ALLOW[person.locale] in confirm.text
    fields = {"user_code": device["user_code"], "decision": decision}
    if customer:
        fields["customer"] = customer
    return agent, agent.submit(confirm, fields)


def test_the_tv_gets_tokens_once_the_person_allows(provider, tv):
    device = start(provider, tv)
    assert device["verification_uri"] == f"{provider.url}/device"
    assert (device["interval"], device["expires_in"]) == (INTERVAL, LIFETIME) == (5, 600)
    assert error_of(poll(provider, tv, device["device_code"])) == "authorization_pending"
    assert error_of(poll(provider, tv, device["device_code"])) == "slow_down"
    _, done = approve(provider, device, PHILIP)
    assert done.status_code == 200 and "Uw tv is verbonden" in done.text
    time.sleep(0.1)
    waited_its_interval(provider)
    tokens = tokens_of(poll(provider, tv, device["device_code"]))
    access = pyjwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["role"] == "administrator"
    # A TV is the app channel, not the web site: everything but OneDrive.
    assert access["entitlements"] == list(entitlements_for(
        Role.ADMINISTRATOR, CustomerType.BUSINESS, Channel.APP, has_own_mobile=True))
    assert "tv" in access["entitlements"] and "onedrive" not in access["entitlements"]
    id_token = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_token["name"] == PHILIP.name and id_token["aud"] == [tv.client_id]
    assert error_of(poll(provider, tv, device["device_code"])) == "invalid_grant"  # spent


def test_an_unknown_device_code_is_invalid_grant(provider, tv):
    start(provider, tv)
    assert error_of(poll(provider, tv, secrets.token_urlsafe(32))) == "invalid_grant"


def test_another_clients_device_code_is_invalid_grant(provider, tv):
    other = provider.register("Other TV", "device", redirect_uris=[])
    device = start(provider, tv)
    assert error_of(poll(provider, other, device["device_code"])) == "invalid_grant"
    # Refused before it counted as a poll: the TV's own first poll is not "slow_down".
    assert error_of(poll(provider, tv, device["device_code"])) == "authorization_pending"


def test_a_missing_device_code_is_invalid_request(provider, tv):
    response = requests.post(f"{provider.url}/token", timeout=10,
                             data={"grant_type": GRANT, "client_id": tv.client_id})
    assert error_of(response) == "invalid_request"


def test_denied_is_access_denied(provider, tv):
    device = start(provider, tv)
    _, done = approve(provider, device, PHILIP, decision="deny")
    assert done.status_code == 200 and "U hebt het niet toegestaan" in done.text
    assert error_of(poll(provider, tv, device["device_code"])) == "access_denied"


def test_a_person_in_two_customers_chooses_one(provider, tv):
    device = start(provider, tv)
    _, done = approve(provider, device, THOMAS, customer="987654321")
    assert done.status_code == 200 and "Your TV is connected" in done.text
    tokens = tokens_of(poll(provider, tv, device["device_code"]))
    access = pyjwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["customer_number"] == "987654321" and access["role"] == "administrator"


def test_an_expired_code_is_expired_token(provider, tv):
    device = start(provider, tv)
    with database.new_session(provider.app) as session:
        session.execute(update(DeviceAuthorization).values(expires_at=utcnow()))
        session.commit()
    assert error_of(poll(provider, tv, device["device_code"])) == "expired_token"


def test_wrong_codes_are_refused_and_limited(provider, tv):
    start(provider, tv)
    agent = UserAgent(provider.url)
    page = agent.follow(agent.get("/device"), email=PHILIP.email, password=PHILIP.password)
    for typed in ["BCDF-GHJK", "not a code", "x" * 100]:
        wrong = agent.submit(page, {"user_code": typed})
        assert wrong.status_code == 400 and "Deze code klopt niet" in wrong.text  # Dutch
    for _ in range(WRONG_CODES - 3):
        agent.submit(page, {"user_code": "BCDF-GHJK"})
    blocked = agent.submit(page, {"user_code": "BCDF-GHJK"})
    assert blocked.status_code == 429 and "Te veel verkeerde codes" in blocked.text


def test_only_device_clients_use_the_device_endpoint(provider, web):
    response = requests.post(f"{provider.url}/device_authorization", timeout=10,
                             data={"scope": "openid"}, auth=web.auth)
    assert error_of(response) == "unauthorized_client"  # authenticated, so 400 (RFC 6749 §5.2)


def test_discovery_advertises_the_device_endpoint(provider):
    meta = requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=10).json()
    assert meta["device_authorization_endpoint"] == f"{provider.url}/device_authorization"
    assert GRANT in meta["grant_types_supported"]
