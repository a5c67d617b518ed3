"""The operator's records for the demo customers of ``keyholder demo``
(``keyholder.demo.data``): Smith ltd (123456789, business) with the mobiles of Philip,
Mary and Thomas and an internet line; the Taylor household (987654321,
residential) with Emma's mobile and an internet + TV subscription.

The data are fixed (no clock), so tests and screenshots see the same numbers.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.operator_data import (
    Bill,
    BillStatus,
    BizzClubPoints,
    Option,
    Subscription,
    SubscriptionKind,
    Usage,
    open_store,
)

SMITH_LTD, TAYLOR_HOUSEHOLD = "123456789", "987654321"
MOBILE, INTERNET, TV = SubscriptionKind.MOBILE, SubscriptionKind.INTERNET, SubscriptionKind.TV
MONTHS = ("2026-08", "2026-09", "2026-10")

# (customer, kind, number, holder, plan)
SUBSCRIPTIONS = (
    (SMITH_LTD, MOBILE, "+32470000001", "Philip Smith", "Business Mobile Unlimited"),
    (SMITH_LTD, MOBILE, "+32470000002", "Mary Jones", "Business Mobile 20 GB"),
    (SMITH_LTD, MOBILE, "+32470000003", "Thomas Taylor", "Business Mobile 10 GB"),
    (SMITH_LTD, INTERNET, "INT-123456789-01", None, "Business Internet Fibre 500 Mbps"),
    (TAYLOR_HOUSEHOLD, MOBILE, "+32470000004", "Emma Taylor", "Mobile 5 GB"),
    (TAYLOR_HOUSEHOLD, TV, "TV-987654321-01", None, "Internet + TV Flex"),
)

# The options every mobile has: (name, monthly fee in cents; 0 is free).
MOBILE_OPTIONS = (("Voicemail to e-mail", 0), ("Hide my number", 0),
                  ("Roaming Europe Pass", 500), ("Extra 10 GB", 1000))
LINE_OPTIONS = {
    INTERNET: (("Parental filter", 0), ("Fixed IP address", 900), ("Wi-Fi booster", 400)),
    TV: (("Parental filter", 0), ("Sport pack", 1499), ("Replay+", 500)),
}
ACTIVE = {("+32470000001", "Roaming Europe Pass"), ("INT-123456789-01", "Fixed IP address")}

# (customer, month, amount in cents, status)
BILLS = (
    (SMITH_LTD, "2026-08", 24_870, BillStatus.PAID),
    (SMITH_LTD, "2026-09", 25_315, BillStatus.PAID),
    (SMITH_LTD, "2026-10", 26_102, BillStatus.OPEN),
    (TAYLOR_HOUSEHOLD, "2026-08", 8_950, BillStatus.PAID),
    (TAYLOR_HOUSEHOLD, "2026-09", 8_950, BillStatus.PAID),
    (TAYLOR_HOUSEHOLD, "2026-10", 9_449, BillStatus.OPEN),
)

# mobile -> (data MB, minutes, SMS) for each of MONTHS
USAGE = {
    "+32470000001": ((18_430, 612, 48), (21_002, 655, 37), (19_870, 590, 41)),
    "+32470000002": ((6_120, 240, 112), (7_340, 198, 97), (5_980, 221, 130)),
    "+32470000003": ((3_410, 305, 12), (2_990, 288, 20), (4_105, 342, 9)),
    "+32470000004": ((2_200, 95, 310), (2_870, 110, 280), (3_050, 87, 295)),
}

BIZZ_CLUB = {SMITH_LTD: 2_450}


def seed_demo_data(session: Session) -> list[str]:
    """Add whatever of the demo records is missing (existing rows, activated
    options among them, are left as they are); returns what was added. The
    caller commits."""
    added: list[str] = []
    for customer, kind, number, holder, plan in SUBSCRIPTIONS:
        subscription = session.scalar(select(Subscription).where(Subscription.number == number))
        if subscription is None:
            subscription = Subscription(customer_number=customer, kind=kind, number=number,
                                        holder=holder, plan=plan)
            session.add(subscription)
            session.flush()
            added.append(f"subscription {number}")
        have = {option.name for option in subscription.options}
        for name, fee in MOBILE_OPTIONS if kind is MOBILE else LINE_OPTIONS[kind]:
            if name not in have:
                session.add(Option(subscription=subscription, name=name, paid=fee > 0,
                                   monthly_fee_cents=fee, active=(number, name) in ACTIVE))
                added.append(f"option {name} of {number}")
    have_bills = set(map(tuple, session.execute(select(Bill.customer_number, Bill.month))))
    for customer, month, cents, status in BILLS:
        if (customer, month) not in have_bills:
            session.add(Bill(customer_number=customer, month=month, amount_cents=cents,
                             status=status))
            added.append(f"bill {customer} {month}")
    have_usage = set(map(tuple, session.execute(select(Usage.mobile_number, Usage.month))))
    for mobile, months in USAGE.items():
        for month, (data_mb, minutes, sms) in zip(MONTHS, months, strict=True):
            if (mobile, month) not in have_usage:
                session.add(Usage(mobile_number=mobile, month=month, data_mb=data_mb,
                                  minutes=minutes, sms=sms))
                added.append(f"usage {mobile} {month}")
    for customer, points in BIZZ_CLUB.items():
        if session.get(BizzClubPoints, customer) is None:
            session.add(BizzClubPoints(customer_number=customer, points=points))
            added.append(f"Bizz Club points of {customer}")
    session.flush()
    return added


def seed_store(path: str | Path) -> list[str]:
    """Open (or create) the operator's store at ``path`` and add the demo
    records missing from it; returns what was added."""
    engine = open_store(path)
    try:
        with Session(engine) as session:
            added = seed_demo_data(session)
            session.commit()
    finally:
        engine.dispose()
    return added


__all__ = ["seed_demo_data", "seed_store"]
