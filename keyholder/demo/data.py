"""The demo's data: the help page's example company, ready to log in to.

Smith ltd (123456789, business) with Philip Smith (administrator), Mary
Jones and Thomas Taylor (users, each with an own mobile), and the Taylor
household (987654321, residential) where Thomas is the administrator and
Emma Taylor a user: Thomas belongs to both customers. Philip reads Dutch,
Mary French, the others English. The passwords are
public on purpose; demo mode never runs in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from claims.vocabulary import CustomerType, Role
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS


@dataclass(frozen=True)
class DemoCustomer:
    number: str
    name: str
    type: CustomerType


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    password: str
    memberships: tuple[tuple[str, Role, str | None], ...]  # (customer, role, mobile)
    locale: str = "en"  # the language of their pages and e-mails


SMITH_LTD = DemoCustomer("123456789", "Smith ltd", CustomerType.BUSINESS)
TAYLOR_HOUSEHOLD = DemoCustomer("987654321", "Taylor household", CustomerType.RESIDENTIAL)
CUSTOMERS = (SMITH_LTD, TAYLOR_HOUSEHOLD)

PEOPLE = (
    DemoPerson("philip.smith@smith-ltd.example", "Philip Smith", "philip-demo",
               ((SMITH_LTD.number, Role.ADMINISTRATOR, "+32470000001"),), locale="nl"),
    DemoPerson("mary.jones@smith-ltd.example", "Mary Jones", "mary-demo",
               ((SMITH_LTD.number, Role.USER, "+32470000002"),), locale="fr"),
    DemoPerson("thomas.taylor@smith-ltd.example", "Thomas Taylor", "thomas-demo",
               ((SMITH_LTD.number, Role.USER, "+32470000003"),
                (TAYLOR_HOUSEHOLD.number, Role.ADMINISTRATOR, None))),
    DemoPerson("emma.taylor@taylor-home.example", "Emma Taylor", "emma-demo",
               ((TAYLOR_HOUSEHOLD.number, Role.USER, "+32470000004"),)),
)


def load_demo_data(app: Flask) -> list[str]:
    """Add whatever of the demo data is missing (so it can run at every start);
    returns what was added. Existing rows are left as they are, so changes
    made in the demo survive a restart."""
    added: list[str] = []
    passwords = app.extensions[PASSWORDS]
    with database.write_session(app) as session:
        directory = Directory(session)
        customers = {}
        for spec in CUSTOMERS:
            customer = directory.find_customer(spec.number)
            if customer is None:
                customer = directory.add_customer(spec.number, spec.name, spec.type)
                added.append(f"customer {spec.number}")
            customers[spec.number] = customer
        for spec in PEOPLE:
            person = directory.find_person(spec.email)
            if person is None:
                person = directory.add_person(spec.email, spec.name,
                                              passwords.hash(spec.password),
                                              email_verified=True, locale=spec.locale)
                added.append(f"person {spec.email}")
            for number, role, mobile in spec.memberships:
                if directory.membership(person, customers[number]) is None:
                    directory.add_membership(person, customers[number], role, mobile)
                    added.append(f"membership {spec.email} in {number}")
    return added


def logins_table() -> str:
    lines = ["Demo logins (e-mail / password):"]
    for spec in PEOPLE:
        roles = ", ".join(f"{role.value} of {number}" for number, role, _ in spec.memberships)
        lines.append(f"  {spec.email:<34} {spec.password:<12} {spec.name} ({roles})")
    return "\n".join(lines)
