"""``keyholder customer ...``, ``person ...``, ``member ...``, ``export`` and
``import``: the operator's directory commands. Each runs in one transaction:
on any refusal it prints one line, exits non-zero and changes nothing.

What they print never holds a password hash, a second factor's secret or any
other secret, and text that came from outside (a browser's User-Agent) is
printed with its control characters escaped, so that it cannot drive the
operator's terminal."""

from __future__ import annotations

import secrets
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from claims.customer_numbers import InvalidCustomerNumber
from claims.vocabulary import CustomerType, Role
from idp.account.models import RecoveryCode
from idp.account.passwords import set_password
from idp.directory import transfer
from idp.directory.errors import DirectoryError, UnknownPerson
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import OPERATOR, Directory
from idp.infrastructure import database
from idp.infrastructure.passwords import MAX_LENGTH, PASSWORDS, check_policy
from idp.login.models import SsoSession
from idp.login.sessions import end_all_of
from idp.protocol.tokens.family_revocation import revoke_customer_grants, revoke_person_grants
from idp.security_events.queue import initiating_entity, session_revoked

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


@contextmanager
def reading() -> Iterator[Directory]:
    """The directory in one read-only transaction that sees one moment of it
    (REPEATABLE READ on PostgreSQL; on SQLite a read transaction is one
    snapshot already), so that a listing or an export never mixes before and
    after a concurrent change. Refusals are reported as by unit_of_work. It
    ends with a rollback, which expires what was loaded: use it inside."""
    session = database.session()
    options = {}
    if session.get_bind().dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    session.connection(execution_options=options)
    try:
        yield Directory(session)
    except (DirectoryError, InvalidCustomerNumber) as error:
        raise click.ClickException(error.reason) from None
    finally:
        session.rollback()


def storable(text: str) -> bool:
    """Whether ``text`` can reach the database at all: no NUL (which
    PostgreSQL refuses in text) and no lone surrogate (which a command-line
    argument that is not UTF-8 becomes, and no driver can encode)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_person(directory: Directory, email: str) -> Person:
    """The person with this address as typed, or the one-line refusal."""
    if not storable(email):
        raise UnknownPerson("There is no person with this e-mail address.")
    return directory.person(email)


def printable(text: object) -> str:
    """``text`` for the operator's terminal: control and format characters
    (an escape sequence in a User-Agent...) escaped, never interpreted."""
    return "".join(ch if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}
                   else ascii(ch)[1:-1] for ch in str(text))


def when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


customer_group = AppGroup("customer", help="Customers (a company or a household).")
person_group = AppGroup("person", help="Persons (one login each).")
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


@person_group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--customer", "customer_number", help="Customer number to join (9 digits).")
@click.option("--role", type=ROLES, default=Role.USER.value, show_default=True)
@click.option("--mobile", help="Own mobile under this customer, E.164 (+32470000001).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input; otherwise one is generated "
                   "and printed once.")
@click.option("--verified/--unverified", default=False, show_default=True,
              help="Whether the operator has checked the address (the contract, an "
                   "e-mail from it). An unverified person gets a link to verify it.")
@refusing
def person_add(email: str, name: str, customer_number: str | None, role: str,
               mobile: str | None, password_stdin: bool, verified: bool) -> None:
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
                                      email_verified=verified)
        if customer is not None:
            directory.add_membership(person, customer, role, mobile)
        if not verified:  # the e-mail with the verification link, sent by the worker
            from idp.account.verification import send_verification

            send_verification(directory.session, person, OPERATOR)
    joined = f", {role} of {customer.number}" if customer is not None else ""
    click.echo(f"Added {person.name} <{person.email}>{joined}."
               + ("" if verified else " A verification link is on its way."))
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
        person = find_person(directory, email)
        customer = directory.customer(customer_number)
        directory.add_membership(person, customer, role, mobile)
    click.echo(f"{person.name} is now {role} of {customer.number}.")


@person_group.command("suspend")
@click.argument("email")
def person_suspend(email: str) -> None:
    """Suspend a person: no sign-in, every session and token ended at once,
    the services told (back-channel logout, session-revoked events)."""
    with unit_of_work() as directory:
        person = find_person(directory, email)
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
        person = find_person(directory, email)
        changed = directory.set_suspended(person, False)
    click.echo(f"{person.name} can sign in again." if changed else f"{person.name} is active.")


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

LAST_SIGN_INS = 5


@person_group.command("list")
def person_list() -> None:
    """Every person, by e-mail address: address, name, status, and each
    membership as customer number and role."""
    with reading() as directory:
        persons = directory.session.scalars(
            select(Person).order_by(transfer.code_point_order(directory.session, Person.email))
            .options(selectinload(Person.memberships).selectinload(Membership.customer))).all()
        rows = [(p.email, p.name, p.status.value,
                 sorted((m.customer.number, m.role.value) for m in p.memberships))
                for p in persons]
    if not rows:
        click.echo("No persons.")
    for email, name, status, memberships in rows:
        joined = ", ".join(f"{number} {role}" for number, role in memberships)
        click.echo(f"{email}  {name}  {status}  {joined or 'no customer'}")


@person_group.command("show")
@click.argument("email")
def person_show(email: str) -> None:
    """Show a person: status, e-mail verification, second factor, memberships
    and the last sign-ins (never a password hash or a secret)."""
    with reading() as directory:
        db = directory.session
        person = find_person(directory, email)
        memberships = directory.memberships_of(person)
        sign_ins = db.scalars(select(SsoSession).where(SsoSession.person_id == person.id)
                              .order_by(SsoSession.created_at.desc(), SsoSession.id.desc())
                              .limit(LAST_SIGN_INS)).all()
        codes_left = db.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None)))
        now = utcnow()
        lines = [f"{person.name} <{person.email}>",
                 f"  subject        {person.id}",
                 f"  status         {person.status.value}",
                 f"  e-mail         {'verified' if person.email_verified else 'not verified'}"]
        if person.totp_enabled_at is not None:
            lines.append(f"  second factor  enrolled {when(person.totp_enabled_at)}, "
                         f"{codes_left} recovery code(s) left")
        else:
            lines.append("  second factor  not enrolled")
        lines.append("  password       " + (f"changed {when(person.password_changed_at)}"
                                          if person.password_changed_at is not None
                                          else "not changed since the person was added"))
        lines.append(f"  added          {when(person.created_at)}")
        lines.append("  memberships" + ("" if memberships else "    none"))
        for m in memberships:
            flags = "  [excluded from administration]" if m.excluded_from_administration \
                else ""
            lines.append(f"    {m.customer.number}  {m.role.value:<13}  "
                         f"{m.mobile or 'no mobile':<16}  {m.customer.name}{flags}")
        lines.append(f"  last sign-ins  {'newest first' if sign_ins else 'none'}")
        for sso in sign_ins:
            if sso.ended_at is not None:
                state = f"ended {when(sso.ended_at)}"
            elif sso.expires_at <= now:
                state = f"expired {when(sso.expires_at)}"
            else:
                state = f"live until {when(sso.expires_at)}"
            amr = "+".join(printable(method) for method in sso.amr or []) or "-"
            lines.append(f"    {when(sso.created_at)}  {printable(sso.channel)}  {amr}  "
                         f"{printable(sso.ip_address or 'unknown address')}  {state}  "
                         f"{printable(sso.user_agent or 'unknown browser')}")
    click.echo("\n".join(lines))


@person_group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input; otherwise one is generated "
                   "and printed once.")
@refusing
def person_set_password(email: str, password_stdin: bool) -> None:
    """Give a person a new password. Every session and token of theirs ends
    (their services told), the audit records it, and an e-mail tells them."""
    generated = None
    if password_stdin:
        # A longer line is refused by the policy all the same; no need to read more.
        password = check_policy(sys.stdin.readline(8 * MAX_LENGTH).rstrip("\r\n"))
    else:
        password = generated = secrets.token_urlsafe(12)
    with unit_of_work() as directory:
        person = find_person(directory, email)
        ended = set_password(directory.session, person, password, actor=OPERATOR,
                             how="operator")
    click.echo(f"{person.name} has a new password: {ended} session(s) and every token "
               "family ended; an e-mail tells them.")
    if not person.is_active:
        click.echo(f"{person.name} is suspended still: `keyholder person unsuspend` lets them "
                   "sign in.")
    if generated:
        click.echo(f"Password (shown once): {generated}")


@person_group.command("remove")
@click.argument("email")
def person_remove(email: str) -> None:
    """Remove a person for good, with their memberships.

    First their sessions end (their services get back-channel logout tokens
    and a session-revoked event), their token families are revoked and each
    membership is removed (audited under its customer, the services told);
    then "person.removed" is audited with the subject, and the person is
    deleted.

    \b
    The last administrator of a customer may be removed, even when the
    customer has other members (a person's removal is not the customers' to
    refuse): the command names each customer left without an administrator,
    whose members can then promote themselves (when self-promotion is open),
    or the operator runs `keyholder member set-role`."""
    with unit_of_work() as directory:
        db = directory.session
        person = find_person(directory, email)
        name, address, subject = person.name, person.email, person.id
        memberships = list(directory.memberships_of(person))
        headless = [m.customer.number for m in memberships if m.is_administrator
                    and not [a for a in directory.administrators_of(m.customer)
                             if a.person_id != subject]
                    and len(directory.members_of(m.customer)) > 1]
        ended = end_all_of(db, subject)
        revoked = revoke_person_grants(db, subject, "person_removed")
        for membership in memberships:
            directory.remove_membership(membership)
        event = directory.record("person.removed", OPERATOR, person=person, subject=subject,
                                 customers=sorted(m.customer.number for m in memberships))
        db.flush()  # the audit event's id is the security event's txn
        session_revoked(db, subject, initiating=initiating_entity(OPERATOR, subject),
                        reason="The account was removed.", txn=str(event.id))
        db.delete(person)
        db.flush()
    click.echo(f"Removed {name} <{address}> (subject {subject}): {ended} session(s) and "
               f"{revoked} token family(ies) ended, {len(memberships)} membership(s) removed; "
               "the services are told.")
    for number in headless:
        click.echo(f"Customer {number} has no administrator now: its members may promote "
                   "themselves if self-promotion is open, or run `keyholder member set-role "
                   f"EMAIL --customer {number} --role administrator`.")


@person_group.command("reset-second-factor")
@click.argument("email")
def person_reset_second_factor(email: str) -> None:
    """Remove a person's second factor and recovery codes (a lost phone and
    lost codes, checked by the helpdesk); they sign in with the password and
    may enrol again (an administrator whose customer requires it: at once)."""
    from idp.account import totp

    with unit_of_work() as directory:
        person = find_person(directory, email)
        if person.totp_enabled_at is None:
            click.echo(f"{person.name} has no second factor.")
            return
        totp.disable(directory.session, person, actor=OPERATOR, how="operator")
    click.echo(f"{person.name}'s second factor and recovery codes are removed.")
