"""``keyholder customer ...``, ``member ...``, ``export`` and ``import``:
the operator's directory commands (``person ...`` is
:mod:`idp.directory.person_cli`; what they share,
:mod:`idp.directory.cli_support`). Each runs in one transaction: on any
refusal it prints one line, exits non-zero and changes nothing. What they
print never holds a secret, and text that came from outside is printed with
its control characters escaped."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from claims.vocabulary import Role
from idp.directory import transfer
from idp.directory.cli_support import (
    ROLES,
    TYPES,
    find_person,
    reading,
    refusing,
    unit_of_work,
)
from idp.directory.models import Customer, Membership
from idp.directory.person_cli import person_group
from idp.infrastructure.passwords import PASSWORDS
from idp.protocol.tokens.family_revocation import revoke_customer_grants

customer_group = AppGroup("customer", help="Customers (a company or a household).")
member_group = AppGroup("member", help="A person's membership of a customer.")




@click.command("export")
@with_appcontext
def export_command() -> None:
    """Write the directory (customers, persons, memberships) to standard
    output as JSON lines: one object a line, its kind in "type", in a stable
    order. Never a password hash, a second factor or any other secret; see
    `keyholder import`."""
    with reading() as directory:
        for line in transfer.export_lines(directory.session):
            click.echo(line)


@click.command("import")
@with_appcontext
@refusing
def import_command() -> None:
    """Read JSON lines such as `keyholder export` writes from standard input
    and add the customers, persons and memberships the directory lacks.

    \b
    Idempotent: what exists already (a customer by number, a person by
    e-mail address, a membership by both) is left exactly as it is, and
    counted as kept; importing a file twice changes nothing the second time.
    A person added has the exported sub, e-mail verification and status, and
    no usable password (they use "Forgot password?", or run `keyholder person
    set-password`). Every line is checked first; a bad line is one error
    naming its number, and then nothing is imported."""
    records = transfer.read_lines(sys.stdin.buffer)
    password_hash = ""
    if any(record.kind == transfer.PERSON for record in records):
        password_hash = transfer.unusable_password_hash(current_app.extensions[PASSWORDS])
    with unit_of_work() as directory:
        outcome = transfer.import_records(directory, records, password_hash)
    for kind, label in ((transfer.CUSTOMER, "customers"), (transfer.PERSON, "persons"),
                        (transfer.MEMBERSHIP, "memberships")):
        tally = outcome.tallies[kind]
        differing = (f" ({tally.differing} not as in the file: left as they are)"
                     if tally.differing else "")
        click.echo(f"{label + ':':<13} {tally.added} added, {tally.kept} kept{differing}")
    if outcome.tallies[transfer.PERSON].added:
        click.echo("The persons added have no usable password yet: they choose one with "
                   "\"Forgot password?\", or use `keyholder person set-password`.")


commands = (customer_group, person_group, member_group, export_command, import_command)


@customer_group.command("list")
def customer_list() -> None:
    """Every customer, by number: number, type, member count, name."""
    with reading() as directory:
        db = directory.session
        counts = dict(db.execute(select(Membership.customer_id, func.count())
                                 .group_by(Membership.customer_id)).all())
        customers = db.scalars(select(Customer).order_by(Customer.number)).all()
        if not customers:
            click.echo("No customers.")
        for customer in customers:
            members = counts.get(customer.id, 0)
            click.echo(f"{customer.number}  {customer.type.value:<11}  {members:>4} "
                       f"{'member ' if members == 1 else 'members'}  {customer.name}")


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


@member_group.command("add")
@click.argument("email")
@click.option("--customer", "customer_number", required=True, help="Customer number (9 digits).")
@click.option("--role", type=ROLES, default=Role.USER.value, show_default=True)
@click.option("--mobile", help="Own mobile under this customer, E.164 (+32470000001).")
def member_add(email: str, customer_number: str, role: str, mobile: str | None) -> None:
    """Make an existing person a member of another customer."""
    with unit_of_work() as directory:
        person = find_person(directory, email)
        customer = directory.customer(customer_number)
        directory.add_membership(person, customer, role, mobile)
    click.echo(f"{person.name} is now {role} of {customer.number}.")


@member_group.command("remove")
@click.argument("email")
@click.option("--customer", "customer_number", required=True, help="Customer number (9 digits).")
def member_remove(email: str, customer_number: str) -> None:
    """Remove a person from a customer: their tokens for it are inactive at once."""
    with unit_of_work() as directory:
        person = find_person(directory, email)
        customer = directory.customer(customer_number)
        membership = directory.membership(person, customer)
        if membership is None:
            raise click.ClickException(f"{person.name} is not a member of {customer.number}.")
        directory.remove_membership(membership)
        revoke_customer_grants(directory.session, person.id, customer.id, "membership_removed")
    click.echo(f"{person.name} is no longer a member of {customer.number}.")


# -- the operator's view and care of persons ----------------------------------------
