"""The operator's store on its own (no provider): what ``usage_for`` and the
other readers return, the demo seed, and activating an option once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyholder.demo.operator_records import seed_demo_data
from services import operator_data as data


@pytest.fixture
def session(tmp_path):
    engine = data.open_store(tmp_path / "operator.db")
    with Session(engine) as session:
        seed_demo_data(session)
        session.commit()
        yield session
    engine.dispose()


def test_usage_for_a_customer_and_for_one_mobile(session):
    everyone = data.usage_for(session, "123456789")
    assert {row["mobile"] for row in everyone} == {"+32470000001", "+32470000002",
                                                   "+32470000003"}
    assert len(everyone) == 9
    mary = data.usage_for(session, "123456789", mobile="+32470000002")
    assert [row["month"] for row in mary] == ["2026-10", "2026-09", "2026-08"]
    assert mary[1] == {"mobile": "+32470000002", "holder": "Mary Jones", "month": "2026-09",
                       "data_mb": 7340, "minutes": 198, "sms": 97}


@pytest.mark.parametrize(("customer", "mobile"), [
    ("987654321", "+32470000002"),  # a mobile of another customer
    ("123456789", "+32470000004"),
    ("123456789", "+32470000009"),  # nobody's
    ("000000000", None),
])
def test_usage_for_never_crosses_customers(session, customer, mobile):
    assert data.usage_for(session, customer, mobile=mobile) == []


def test_subscriptions_bills_options_points(session):
    smith = data.subscriptions_of(session, "123456789")
    assert [s.number for s in smith] == ["+32470000001", "+32470000002", "+32470000003",
                                         "INT-123456789-01"]
    assert data.find_subscription(session, "987654321", "+32470000001") is None
    assert [b.month for b in data.bills_of(session, "987654321")] == ["2026-10", "2026-09",
                                                                      "2026-08"]
    marys = data.options_of(session, "123456789", "+32470000002")
    assert {(o.name, o.paid) for o in marys} == {("Voicemail to e-mail", False),
                                                 ("Hide my number", False),
                                                 ("Roaming Europe Pass", True),
                                                 ("Extra 10 GB", True)}
    assert data.bizz_club_points(session, "123456789") == 2450
    assert data.bizz_club_points(session, "987654321") is None


def test_the_seed_adds_only_what_is_missing(session):
    option = data.options_of(session, "123456789", "+32470000002")[0]
    assert data.activate_option(session, option, "someone")
    session.commit()
    count = session.scalar(select(func.count()).select_from(data.Option))
    assert seed_demo_data(session) == []
    assert session.scalar(select(func.count()).select_from(data.Option)) == count
    assert session.get(data.Option, option.id).active  # a change made in the demo survives


def test_an_option_is_activated_once(session):
    option = data.options_of(session, "123456789", "+32470000002")[0]
    assert data.activate_option(session, option, "sub-1")
    assert not data.activate_option(session, option, "sub-2")
    session.commit()
    assert option.active and option.activated_by == "sub-1" and option.activated_at


def test_a_paid_option_is_activated_only_at_the_confirmed_fee(session):
    extra = next(o for o in data.options_of(session, "123456789", "+32470000002")
                 if o.name == "Extra 10 GB")
    assert extra.monthly_fee_cents == 1000
    assert not data.activate_option(session, extra, "sub-1", at_fee_cents=900)
    assert not extra.active  # the price confirmed is not today's: nothing changed
    assert data.activate_option(session, extra, "sub-1", at_fee_cents=1000)
    session.commit()
    assert extra.active and extra.activated_by == "sub-1"


def test_a_paid_option_has_a_fee(session):
    subscription = data.find_subscription(session, "123456789", "+32470000001")
    session.add(data.Option(subscription=subscription, name="Odd", paid=True,
                            monthly_fee_cents=0))
    with pytest.raises(IntegrityError):
        session.flush()
