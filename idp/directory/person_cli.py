"""``keyholder person ...``: the operator's commands for persons (one login
each). Each runs in one transaction: on any refusal it prints one line,
exits non-zero and changes nothing; nothing it prints holds a password hash,
a second factor's secret or any other secret."""

from __future__ import annotations

import secrets
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from claims.vocabulary import Role
from idp.account.models import RecoveryCode
from idp.account.passwords import set_password
from idp.directory import transfer
from idp.directory.cli_support import (
    ROLES,
    find_person,
    printable,
    reading,
    refusing,
    unit_of_work,
    when,
)
from idp.directory.models import Membership, Person, utcnow
from idp.directory.services import OPERATOR
from idp.infrastructure.passwords import MAX_LENGTH, PASSWORDS, check_policy
from idp.login.models import SsoSession
from idp.login.sessions import end_all_of
from idp.protocol.tokens.family_revocation import revoke_person_grants
from idp.security_events.queue import initiating_entity, session_revoked

person_group = AppGroup("person", help="Persons (one login each).")


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
