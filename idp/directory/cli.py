"""``keyholder customer ...``, ``person ...`` and ``member ...``: the operator's
directory commands. Each runs in one transaction: on any refusal it prints one
line, exits non-zero and changes nothing."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

import click
from flask import current_app
from flask.cli import AppGroup

from claims.customer_numbers import InvalidCustomerNumber
from claims.vocabulary import CustomerType, Role
from idp.directory.errors import DirectoryError
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS, check_policy

ROLES = click.Choice([r.value for r in Role])
TYPES = click.Choice([t.value for t in CustomerType])


@contextmanager
def unit_of_work() -> Iterator[Directory]:
    """The directory in one transaction: committed on success, rolled back
    on any error, which is reported as one line and a non-zero exit. Begun
    as a writer, so that on SQLite it holds the writers' lock from the start
    (the customer's lock of a promotion) instead of failing halfway."""
    session = database.session()
    database.begin_write(session)
    try:
        yield Directory(session)
        session.commit()
    except (DirectoryError, InvalidCustomerNumber) as error:
        session.rollback()
        raise click.ClickException(error.reason) from None
    except BaseException:
        session.rollback()
        raise


def refusing(func: Callable) -> Callable:
    """Report bad input found before the transaction (options) the same way."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (DirectoryError, InvalidCustomerNumber) as error:
            raise click.ClickException(error.reason) from None
    return wrapper


customer_group = AppGroup("customer", help="Customers (a company or a household).")
person_group = AppGroup("person", help="Persons (one login each).")
member_group = AppGroup("member", help="A person's membership of a customer.")
commands = (customer_group, person_group, member_group)


@customer_group.command("add")
@click.argument("number")
@click.option("--name", required=True, help="The company's or household's name.")
@click.option("--type", "type_", type=TYPES, required=True)
def customer_add(number: str, name: str, type_: str) -> None:
    """Add a customer with this customer number (9 digits)."""
    with unit_of_work() as directory:
        customer = directory.add_customer(number, name, type_)
    click.echo(f"Added {customer.type.value} customer {customer.number} ({customer.name}).")


@customer_group.command("show")
@click.argument("number")
def customer_show(number: str) -> None:
    """Show a customer, its members and their roles."""
    with unit_of_work() as directory:
        customer = directory.customer(number)
        members = directory.members_of(customer)
        click.echo(f"{customer.number}  {customer.name}  ({customer.type.value}, "
                   f"self-promotion {'open' if customer.self_promotion_open else 'closed'})")
        if not members:
            click.echo("  no members")
        for m in members:
            flags = [m.person.status.value] if not m.person.is_active else []
            if m.excluded_from_administration:
                flags.append("excluded from administration")
            click.echo(f"  {m.role.value:<13}  {m.person.name}  <{m.person.email}>  "
                       f"{m.mobile or 'no mobile'}" + (f"  [{', '.join(flags)}]" if flags else ""))


@person_group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--customer", "customer_number", help="Customer number to join (9 digits).")
@click.option("--role", type=ROLES, default=Role.USER.value, show_default=True)
@click.option("--mobile", help="Own mobile under this customer, E.164 (+32470000001).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input; otherwise one is generated "
                   "and printed once.")
@click.option("--unverified", is_flag=True, help="The e-mail address is not verified yet.")
@refusing
def person_add(email: str, name: str, customer_number: str | None, role: str,
               mobile: str | None, password_stdin: bool, unverified: bool) -> None:
    """Add a person (a login), as a member of a customer when --customer is given."""
    if (mobile or role != Role.USER.value) and not customer_number:
        raise click.UsageError("--role and --mobile need --customer.")
    generated = None
    if password_stdin:
        password = check_policy(sys.stdin.readline().rstrip("\r\n"))
    else:
        password = generated = secrets.token_urlsafe(12)
    password_hash = current_app.extensions[PASSWORDS].hash(password)
    with unit_of_work() as directory:
        customer = directory.customer(customer_number) if customer_number else None
        person = directory.add_person(email, name, password_hash,
                                      email_verified=not unverified)
        if customer is not None:
            directory.add_membership(person, customer, role, mobile)
    joined = f", {role} of {customer.number}" if customer is not None else ""
    click.echo(f"Added {person.name} <{person.email}>{joined}.")
    if generated:
        click.echo(f"Password (shown once): {generated}")


@member_group.command("add")
@click.argument("email")
@click.option("--customer", "customer_number", required=True, help="Customer number (9 digits).")
@click.option("--role", type=ROLES, default=Role.USER.value, show_default=True)
@click.option("--mobile", help="Own mobile under this customer, E.164 (+32470000001).")
def member_add(email: str, customer_number: str, role: str, mobile: str | None) -> None:
    """Make an existing person a member of another customer."""
    with unit_of_work() as directory:
        person = directory.person(email)
        customer = directory.customer(customer_number)
        directory.add_membership(person, customer, role, mobile)
    click.echo(f"{person.name} is now {role} of {customer.number}.")


@person_group.command("suspend")
@click.argument("email")
def person_suspend(email: str) -> None:
    """Suspend a person: no sign-in, every session and token ended at once,
    the services told (back-channel logout, session-revoked events)."""
    from idp.login.sessions import end_all_of
    from idp.protocol.tokens.family_revocation import revoke_person_grants

    with unit_of_work() as directory:
        person = directory.person(email)
        if not directory.set_suspended(person, True):
            click.echo(f"{person.name} is suspended already.")
            return
        ended = end_all_of(directory.session, person.id)
        revoked = revoke_person_grants(directory.session, person.id, "suspended")
    click.echo(f"Suspended {person.name}: {ended} session(s) and {revoked} token "
               "family(ies) ended.")


@person_group.command("unsuspend")
@click.argument("email")
def person_unsuspend(email: str) -> None:
    """Let a suspended person sign in again (their old tokens stay ended)."""
    with unit_of_work() as directory:
        person = directory.person(email)
        changed = directory.set_suspended(person, False)
    click.echo(f"{person.name} can sign in again." if changed else f"{person.name} is active.")


@member_group.command("remove")
@click.argument("email")
@click.option("--customer", "customer_number", required=True, help="Customer number (9 digits).")
def member_remove(email: str, customer_number: str) -> None:
    """Remove a person from a customer: their tokens for it are inactive at once."""
    from idp.protocol.tokens.family_revocation import revoke_customer_grants

    with unit_of_work() as directory:
        person = directory.person(email)
        customer = directory.customer(customer_number)
        membership = directory.membership(person, customer)
        if membership is None:
            raise click.ClickException(f"{person.name} is not a member of {customer.number}.")
        directory.remove_membership(membership)
        revoke_customer_grants(directory.session, person.id, customer.id, "membership_removed")
    click.echo(f"{person.name} is no longer a member of {customer.number}.")
