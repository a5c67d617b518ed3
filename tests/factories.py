"""factory_boy factories for the directory, on the current app context's session.

    PersonFactory()                                 an active, verified person
    MembershipFactory(administrator=True)           an administrator of a new business customer
    MembershipFactory(customer=c, mobile=None)      a user of ``c`` without a mobile
    CustomerFactory(residential=True)
"""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory
from flask import current_app

from claims.vocabulary import CustomerType, Role
from idp.directory.models import Customer, Membership, Person, PersonStatus
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS

PASSWORD = "correct horse battery staple"


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = database.session
        sqlalchemy_session_persistence = "flush"


class CustomerFactory(_Base):
    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"{100000000 + n:09d}")
    name = factory.Sequence(lambda n: f"Customer {n} ltd")
    type = CustomerType.BUSINESS
    self_promotion_open = True

    class Params:
        residential = factory.Trait(type=CustomerType.RESIDENTIAL,
                                    name=factory.Sequence(lambda n: f"Household {n}"))
        closed = factory.Trait(self_promotion_open=False)


class PersonFactory(_Base):
    class Meta:
        model = Person

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Sequence(lambda n: f"Person {n}")
    email_verified = True
    status = PersonStatus.ACTIVE
    locale = "en"
    password_hash = factory.LazyFunction(lambda: current_app.extensions[PASSWORDS].hash(PASSWORD))

    class Params:
        suspended = factory.Trait(status=PersonStatus.SUSPENDED)
        unverified = factory.Trait(email_verified=False)


class MembershipFactory(_Base):
    class Meta:
        model = Membership

    person = factory.SubFactory(PersonFactory)
    customer = factory.SubFactory(CustomerFactory)
    role = Role.USER
    mobile = factory.Sequence(lambda n: f"+3247{n:07d}")
    excluded_from_administration = False

    class Params:
        administrator = factory.Trait(role=Role.ADMINISTRATOR)
        excluded = factory.Trait(excluded_from_administration=True)
