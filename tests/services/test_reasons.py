"""The refusal reasons the services show (services.reasons): in English the
policy's own sentences (claims.policy, the toolkit partners share), in
French and Dutch their translations; and the cases the policy does not
word for people (a token that predates a change) in plain words."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from claims import Identity, MissingEntitlement
from claims.policy import TABLE
from claims.vocabulary import CustomerType, Role
from services import cloud, reasons
from services.relying_party import WebServiceConfig

CONFIG = WebServiceConfig(name="cloud", title="The Cloud", issuer="https://id.example",
                          client_id="abc", client_secret="s3cret",
                          base_url="https://cloud.example", cookie_name="cloud_session",
                          secret_key="x" * 32)
CASES = [(rule.entitlement.value, role, kind) for rule in TABLE for role in Role
         for kind in CustomerType]


@pytest.fixture(scope="module")
def app():
    return cloud.create_app(CONFIG)


def identity(role: Role, kind: CustomerType, **claims) -> Identity:
    """A token for ``role`` of a ``kind`` customer that grants nothing."""
    return Identity.from_claims({"sub": "p", "iss": "https://id.example", "aud": "abc",
                                 "exp": 2_000_000_000, "customer_number": "123456789",
                                 "role": role.value, "customer_type": kind.value,
                                 "entitlements": [], **claims}, client_id="abc")


def policy_reason(person: Identity, entitlement: str) -> str:
    with pytest.raises(MissingEntitlement) as refusal:
        person.require(entitlement)
    return refusal.value.reason


@pytest.mark.parametrize(("entitlement", "role", "kind"), CASES)
def test_in_english_the_reason_is_the_policys(app, entitlement, role, kind):
    person = identity(role, kind)
    expected = policy_reason(person, entitlement)
    with app.test_request_context():
        shown = reasons.why_not(person, entitlement)
    if "signing in again may help" in expected:  # allowed now: the token predates it
        assert shown.startswith("This sign-in does not allow you to ")
        assert "token" not in shown
    else:
        assert shown == expected


@pytest.mark.parametrize(("entitlement", "role", "kind"), CASES)
@pytest.mark.parametrize("language", ["fr_BE", "nl_BE"])
def test_in_french_and_dutch_it_is_translated(app, entitlement, role, kind, language):
    person = identity(role, kind)
    with app.test_request_context(), force_locale(language):
        shown = reasons.why_not(person, entitlement)
        assert reasons.translated(person, entitlement, policy_reason(person, entitlement)) \
            == shown
    assert shown and shown != policy_reason(person, entitlement)


def test_a_reason_the_table_lacks_is_the_toolkits(app):
    person = identity(Role.USER, CustomerType.BUSINESS)
    with app.test_request_context(), force_locale("fr_BE"):
        assert reasons.translated(person, "no-such-entitlement", "As the toolkit says.") \
            == "As the toolkit says."
        assert reasons.translated(person, None, "Not the policy's.") == "Not the policy's."


def test_a_token_without_customer_claims(app):
    person = Identity.from_claims({"sub": "p", "iss": "https://id.example", "aud": "abc",
                                   "exp": 2_000_000_000}, client_id="abc")
    with app.test_request_context(), force_locale("nl_BE"):
        assert reasons.why_not(person, "cloud") == \
            "Uw login is niet aan een klantnummer gekoppeld."
