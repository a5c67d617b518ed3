"""The Usage API against the real provider: tokens asked for the API with a
resource indicator (RFC 8707) are introspected with the API's own
credentials; what a person sees follows the entitlements of docs/design.md
(an administrator every mobile of the customer, a user her own mobile only);
a token meant for anyone else is refused 401, a token without the
entitlement 403 with the policy's reason."""

from __future__ import annotations

import pytest
import requests

from claims.vocabulary import Role
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from keyholder.demo.data import PEOPLE
from services.usage_api import UsageApiConfig, create_app
from tests.provider.agents import UserAgent
from tests.services.rp_support import claims_of, served, usage_api
from tests.support.ports import free_port

BY_NAME = {p.name: p for p in PEOPLE}
PHILIP, MARY, EMMA = BY_NAME["Philip Smith"], BY_NAME["Mary Jones"], BY_NAME["Emma Taylor"]
SCOPE = "openid profile customer phone"
SMITH_MOBILES = {"+32470000001", "+32470000002", "+32470000003"}


@pytest.fixture
def api(provider, tmp_path):
    with usage_api(provider, tmp_path) as served_api:
        yield served_api


@pytest.fixture
def native(provider):
    return provider.register("Keyholder app", "native",
                             redirect_uris=["http://127.0.0.1:8765/callback"])


def access_token(provider, rp, email: str, password: str, scope: str = SCOPE,
                 **params) -> str:
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope=scope, **params)
    code = agent.code_for(rp, authorization, email=email, password=password)
    response = rp.redeem(code, authorization.verifier,
                         **({"resource": params["resource"]} if "resource" in params else {}))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def get_usage(api, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{api.url}/usage", headers=headers, timeout=10)


def test_a_user_sees_her_own_mobile_only(provider, api, native):
    token = access_token(provider, native, MARY.email, MARY.password, resource=api.url)
    assert claims_of(token)["aud"] == [api.url]
    response = get_usage(api, token)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["customer_number"] == "123456789" and body["visibility"] == "own_mobile"
    assert body["mobile"] == "+32470000002"
    assert [row["month"] for row in body["usage"]] == ["2026-10", "2026-09", "2026-08"]
    assert {row["mobile"] for row in body["usage"]} == {"+32470000002"}
    assert body["usage"][0] == {"mobile": "+32470000002", "holder": "Mary Jones",
                                "month": "2026-10", "data_mb": 5980, "minutes": 221,
                                "sms": 130}


def test_an_administrator_sees_every_mobile_of_the_customer(provider, api, native):
    token = access_token(provider, native, PHILIP.email, PHILIP.password, resource=api.url)
    body = get_usage(api, token).json()
    assert body["visibility"] == "all" and body["mobile"] is None
    assert {row["mobile"] for row in body["usage"]} == SMITH_MOBILES  # not Emma's
    assert len(body["usage"]) == 9


def test_a_user_of_another_customer_sees_hers(provider, api, native):
    token = access_token(provider, native, EMMA.email, EMMA.password, resource=api.url)
    body = get_usage(api, token).json()
    assert body["customer_number"] == "987654321"
    assert {row["mobile"] for row in body["usage"]} == {"+32470000004"}


def test_a_token_for_another_client_is_refused(provider, api, web):
    token = access_token(provider, web, MARY.email, MARY.password)  # no resource
    response = get_usage(api, token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="usage-api", error="invalid_token", '
        'error_description="The token is not active."')
    assert response.json()["error"] == "invalid_token"


def test_a_token_for_another_api_is_refused(provider, api, native):
    provider.register("Bills API", "service", resource_uri="http://127.0.0.1:9/bills-api")
    token = access_token(provider, native, PHILIP.email, PHILIP.password,
                         resource="http://127.0.0.1:9/bills-api")
    assert get_usage(api, token).status_code == 401


def test_the_apis_own_service_token_opens_nothing(provider, api):
    # Introspection answers `active` to the client a token was issued to:
    # the API serves only tokens whose audience it is.
    own = api.client.token(grant_type="client_credentials").json()["access_token"]
    response = get_usage(api, own)
    assert response.status_code == 401
    assert 'error_description="The token is not meant for this service."' in \
        response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", [None, "Basic bWFyeTpwdw==", "Bearer", "Bearer a b"])
def test_no_bearer_token(api, header):
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{api.url}/usage", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="usage-api"')


def test_without_the_phone_scope_a_user_is_told_why(provider, api, native):
    token = access_token(provider, native, MARY.email, MARY.password,
                         scope="openid customer", resource=api.url)
    response = get_usage(api, token)
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_entitlement",
        "reason": "This token does not say which mobile is yours (the application must ask "
                  "for the scope 'phone')."}


def test_without_customer_claims_nothing_is_shown(provider, api, native):
    token = access_token(provider, native, MARY.email, MARY.password, scope="openid",
                         resource=api.url)
    response = get_usage(api, token)
    assert response.status_code == 403
    assert "carries no customer claims" in response.json()["reason"]


def test_a_user_without_a_mobile_gets_the_policys_reason(provider, api, native):
    with provider.app.app_context():
        session = database.session()
        directory = Directory(session)
        nora = directory.add_person("nora@smith-ltd.example", "Nora North",
                                    provider.app.extensions[PASSWORDS].hash("nora-demo-pw"),
                                    email_verified=True)
        directory.add_membership(nora, directory.customer("123456789"), Role.USER, None)
        session.commit()
    token = access_token(provider, native, "nora@smith-ltd.example", "nora-demo-pw",
                         resource=api.url)
    response = get_usage(api, token)
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_entitlement",
        "reason": "The usage of your own mobile needs a mobile of your own under this "
                  "customer number."}


def test_the_provider_down_is_503(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    config = lambda url: UsageApiConfig(closed, "api", "secret", url,  # noqa: E731
                                        f"sqlite:///{tmp_path / 'operator.db'}")
    with served(lambda url: create_app(config(url))) as (url, _):
        response = requests.get(f"{url}/usage", headers={"Authorization": "Bearer abc.def.ghi"},
                                timeout=10)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_the_config_does_not_show_the_secret():
    config = UsageApiConfig("http://127.0.0.1:8000", "api", "s3cret-value", "http://x", "sqlite://")
    assert "s3cret-value" not in repr(config)


def test_a_token_issued_to_tv_is_refused(provider, api):
    from sqlalchemy import update

    from idp.protocol.tokens.models import DeviceAuthorization
    from tests.provider.test_device_flow import approve, poll, start

    tv = provider.register("TV", "device", redirect_uris=[])
    device = start(provider, tv, scope="openid profile customer phone")
    approve(provider, device, PHILIP)
    with database.new_session(provider.app) as session:  # the box waited its interval
        session.execute(update(DeviceAuthorization).values(last_polled_at=None))
        session.commit()
    token = poll(provider, tv, device["device_code"]).json()["access_token"]
    assert "usage:all" in claims_of(token)["entitlements"]  # Philip may see it all...
    assert get_usage(api, token).status_code == 401        # ...but not with TV's token
