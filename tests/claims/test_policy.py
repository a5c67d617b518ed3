"""Every cell of the entitlement table (docs/design.md, "Entitlements"):
administrator/user × business/residential × web/app × with/without an own
mobile."""

import itertools

import pytest

from claims.policy import TABLE, Allowed, Denied, decide, entitlements_for
from claims.vocabulary import Channel, CustomerType, Entitlement, Role

# The table of docs/design.md, transcribed by hand (not from claims/policy.py):
# entitlement -> (users too?, web only?, business only?, needs an own mobile?)
DESIGN = {
    "bills": (False, False, False, False),
    "usage:all": (False, False, False, False),
    "usage:own_mobile": (True, False, False, True),
    "options:all": (False, False, False, False),
    "options:activate_paid": (False, False, False, False),
    "options:activate_free:own_mobile": (True, False, False, True),
    "bizz_club": (False, False, True, False),
    "onedrive": (False, True, True, False),
    "tv": (False, False, False, False),
    "cloud": (False, False, False, False),
    "foot11": (False, False, False, False),
}

CELLS = list(itertools.product(Role, CustomerType, Channel, [True, False]))


def expected(role, customer_type, channel, mobile) -> set[str]:
    return {name for name, (users, web_only, business_only, needs_mobile) in DESIGN.items()
            if (role is Role.ADMINISTRATOR or users)
            and (channel is Channel.WEB or not web_only)
            and (customer_type is CustomerType.BUSINESS or not business_only)
            and (mobile or not needs_mobile)}


@pytest.mark.parametrize(("role", "customer_type", "channel", "mobile"), CELLS,
                         ids=[f"{r}-{t}-{c}-{'mobile' if m else 'no-mobile'}"
                              for r, t, c, m in CELLS])
def test_every_cell_of_the_table(role, customer_type, channel, mobile):
    granted = entitlements_for(role, customer_type, channel, has_own_mobile=mobile)
    assert set(granted) == expected(role, customer_type, channel, mobile)
    assert len(granted) == len(set(granted))
    for entitlement in Entitlement:
        decision = decide(entitlement, role, customer_type, channel, has_own_mobile=mobile)
        assert bool(decision) == (entitlement.value in granted)
        assert isinstance(decision, Allowed if decision else Denied)


def test_the_table_names_every_entitlement_once():
    assert [rule.entitlement for rule in TABLE] == list(Entitlement)
    assert set(DESIGN) == {e.value for e in Entitlement}


@pytest.mark.parametrize(("entitlement", "role", "customer_type", "channel", "mobile", "words"), [
    ("foot11", Role.USER, CustomerType.BUSINESS, Channel.WEB, True,
     "Foot 11 is available to administrators of the customer number; you are a user."),
    ("onedrive", Role.ADMINISTRATOR, CustomerType.BUSINESS, Channel.APP, True,
     "OneDrive for Business is available on the web only."),
    ("bizz_club", Role.ADMINISTRATOR, CustomerType.RESIDENTIAL, Channel.WEB, True,
     "The Bizz Club is for business customers only; this customer number is residential."),
    ("usage:own_mobile", Role.USER, CustomerType.BUSINESS, Channel.APP, False,
     "needs a mobile of your own under this customer number."),
])
def test_refusals_say_why(entitlement, role, customer_type, channel, mobile, words):
    decision = decide(entitlement, role, customer_type, channel, has_own_mobile=mobile)
    assert isinstance(decision, Denied) and not decision
    assert words in decision.reason


def test_unknown_entitlement_is_an_error_not_a_silent_denial():
    with pytest.raises(ValueError):
        decide("admin:everything", Role.ADMINISTRATOR, CustomerType.BUSINESS, Channel.WEB,
               has_own_mobile=True)
