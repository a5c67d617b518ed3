"""What administrators do in the console, and the operator's correction.

Every action is one transaction that takes the customer's lock, checks that
the actor is (still) an administrator of *that* customer and that the member
acted on belongs to it, then changes, audits and queues its e-mails
("Every change is audited and told", docs/security.md). Invitations are
:mod:`admin_console.invitations`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from admin_console.eligibility import Refusal, Refused, names
from admin_console.promotion import Promoted, promote
from claims.vocabulary import CustomerType, Role
from idp.account.verification import absolute_url
from idp.directory import locks
from idp.directory.administrators import make_administrator
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import OPERATOR, AuditAction, Directory, person_actor
from idp.infrastructure import database
from idp.outbox import mail
from idp.protocol.tokens.family_revocation import revoke_customer_grants

# Audit actions of the console's own (details hold no secret).
SECOND_FACTOR_REQUIRED = "customer.second_factor_required"
SECOND_FACTOR_OPTIONAL = "customer.second_factor_optional"


@dataclass(frozen=True)
class Done:
    message: str  # what happened, for the page

    def __bool__(self) -> bool:
        return True


NOT_ADMINISTRATOR = Refused(Refusal.NOT_ADMINISTRATOR,
                            "Only an administrator of this customer number can do this.")
NO_SUCH_MEMBER = Refused(Refusal.NO_SUCH_MEMBER,
                         "This person is not a member of this customer number.")


def as_administrator(db: Session, person_id: str, customer_id: int
                     ) -> tuple[Customer, Membership] | Refused:
    customer = locks.customer(db, customer_id)
    actor = locks.membership(db, person_id, customer_id) if customer else None
    if actor is None or actor.role is not Role.ADMINISTRATOR or not actor.person.is_active:
        return NOT_ADMINISTRATOR
    return customer, actor


def tell(db: Session, kind: str, subject: str, people: list[Person], customer: Customer,
         summary: str, next_step: str) -> None:
    for person in people:
        mail.queue(db, kind, "change_notice", subject, person, customer, summary=summary,
                   next_step=next_step)


def other_administrators(db: Session, customer: Customer, actor: Membership) -> list[Person]:
    return [m.person for m in locks.administrators(db, customer.id) if m.id != actor.id]


def _how_users_become_administrators(customer: Customer) -> str:
    if customer.type is CustomerType.RESIDENTIAL:
        return "the administrator can still hand administration over to a member"
    return "an administrator can still make them one on the Members page"


def set_exclusion(app: Flask, actor_id: str, customer_id: int, membership_id: int,
                  excluded: bool) -> Done | Refused:
    """Exclude a user from self-promotion, or include him again."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        member = locks.member_by_id(db, membership_id, customer.id)
        if member is None:
            return NO_SUCH_MEMBER
        if member.role is Role.ADMINISTRATOR:
            return Refused(Refusal.NOT_A_USER, f"{member.person.name} is an administrator "
                           "already; only users can be excluded from administration.")
        if member.excluded_from_administration == excluded:
            state = "excluded from" if excluded else "allowed"
            return Done(f"{member.person.name} is already {state} administration.")
        member.excluded_from_administration = excluded
        Directory(db).record(AuditAction.MEMBER_EXCLUDED if excluded
                             else AuditAction.MEMBER_INCLUDED, person_actor(actor.person),
                             customer=customer, person=member.person)
        what = "excluded you from" if excluded else "allowed you again to take up"
        tell(db, "membership.exclusion", f"Administration of customer {customer.number}",
             [member.person], customer,
             f"{actor.person.name} {what} administration of customer {customer.number}.",
             "Please ask an administrator of your customer number if you have questions.")
        done = "can no longer" if excluded else "can again"
        return Done(f"{member.person.name} {done} become administrator by himself or herself.")


def set_self_promotion(app: Flask, actor_id: str, customer_id: int, open_: bool
                       ) -> Done | Refused:
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        if customer.self_promotion_open == open_:
            return Done("Nothing changed: self-promotion was already "
                        f"{'open' if open_ else 'closed'}.")
        customer.self_promotion_open = open_
        Directory(db).record(AuditAction.SELF_PROMOTION_OPENED if open_
                             else AuditAction.SELF_PROMOTION_CLOSED,
                             person_actor(actor.person), customer=customer)
        others = other_administrators(db, customer, actor)
        state = "opened" if open_ else "closed"
        tell(db, f"customer.self_promotion_{state}",
             f"Self-promotion {state} for customer {customer.number}", others, customer,
             f"{actor.person.name} {state} self-promotion for customer {customer.number} on "
             f"{mail.when(utcnow())}.",
             "Users can now become administrator by themselves." if open_ else
             "Users can no longer become administrator by themselves; "
             f"{_how_users_become_administrators(customer)}.")
        return Done(f"Self-promotion is now {'open' if open_ else 'closed'}.")


def _demote(db: Session, member: Membership, customer: Customer, actor: str, how: str) -> None:
    member.role = Role.USER
    Directory(db).record(AuditAction.DEMOTED, actor, customer=customer, person=member.person,
                         how=how)


def step_down(app: Flask, actor_id: str, customer_id: int) -> Done | Refused:
    """The administrator becomes a user (the page asked for a confirmation)."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        _demote(db, actor, customer, person_actor(actor.person), "stepped down")
        others = other_administrators(db, customer, actor)
        at = mail.when(utcnow())
        tell(db, "membership.stepped_down",
             f"{actor.person.name} is no longer an administrator of customer {customer.number}",
             others, customer,
             f"{actor.person.name} stepped down as administrator of customer "
             f"{customer.number} on {at}.", "You remain an administrator.")
        tell(db, "membership.stepped_down", f"You are now a user of customer {customer.number}",
             [actor.person], customer,
             f"You stepped down as administrator of customer {customer.number} on {at}.",
             "You can become administrator again in the console, unless an administrator "
             "excludes you or closes self-promotion." if others else
             "The customer number has no administrator now; you can become one again in the "
             "console.")
        return Done("You are now a user of this customer number."
                    + ("" if others else " It has no administrator any more."))


def hand_over(app: Flask, actor_id: str, customer_id: int, membership_id: int
              ) -> Done | Refused:
    """Residential customers: the administrator hands administration to
    another member, both changes in one transaction."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        if customer.type is not CustomerType.RESIDENTIAL:
            return Refused(Refusal.NOT_RESIDENTIAL, "Handing over is for residential "
                           "customers; a business customer can have several administrators.")
        member = locks.member_by_id(db, membership_id, customer.id)
        if member is None or member.id == actor.id:
            return NO_SUCH_MEMBER
        if not member.person.is_active:
            return Refused(Refusal.SUSPENDED, f"{member.person.name}'s account is suspended.")
        by = person_actor(actor.person)
        _demote(db, actor, customer, by, "handed over")
        make_administrator(db, member)  # the customer has no administrator now
        Directory(db).record(AuditAction.PROMOTED, by, customer=customer, person=member.person,
                             how="handed over")
        at = mail.when(utcnow())
        tell(db, "membership.handed_over", f"Administration of customer {customer.number}",
             [actor.person], customer,
             f"You handed administration of customer {customer.number} over to "
             f"{member.person.name} on {at}. You are now a user.",
             f"{member.person.name} can hand it back to you in the console.")
        tell(db, "membership.handed_over",
             f"You are now the administrator of customer {customer.number}", [member.person],
             customer, f"{actor.person.name} handed administration of customer "
             f"{customer.number} over to you on {at}.",
             "You can now see and manage everything of this customer number in the console.")
        return Done(f"{member.person.name} is now the administrator; you are a user.")


def make_member_administrator(app: Flask, actor_id: str, customer_id: int,
                              membership_id: int) -> Done | Refused:
    """A business customer's administrator makes a user administrator: the
    same promotion, audit and e-mails as a self-promotion (the security
    events follow from its audit event). A household uses hand-over."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        if customer.type is not CustomerType.BUSINESS:
            return Refused(Refusal.NOT_BUSINESS, "A residential customer has one "
                           "administrator: hand administration over instead.")
        member = locks.member_by_id(db, membership_id, customer.id)
        if member is None:
            return NO_SUCH_MEMBER
        name = member.person.name
        if member.role is Role.ADMINISTRATOR:
            return Done(f"{name} is already an administrator.")
        if not member.person.is_active:
            return Refused(Refusal.SUSPENDED, f"{name}'s account is suspended.")
        if not member.person.email_verified:
            # Administrators are told of changes by e-mail, whoever promotes them.
            return Refused(Refusal.UNVERIFIED, f"{name} has not confirmed the e-mail address "
                           f"{member.person.email} yet, and administrators are told of changes "
                           f"by e-mail. {name} can send the confirmation link again from the "
                           "console.")
        promoted = promote(db, member, customer, person_actor(actor.person),
                           how="by an administrator")
        return Done(f"{name} is now an administrator of customer number {customer.number}. "
                    f"We told {name} and the other administrators "
                    f"({names(promoted.told, 'and')}) by e-mail.")


def remove_member(app: Flask, actor_id: str, customer_id: int, membership_id: int
                  ) -> Done | Refused:
    """Remove a member: every token of the person for this customer is
    inactive from the commit on (introspection reads the membership live, and
    the token families speaking for it are revoked); the security events
    follow from the audit event. An administrator does not remove himself:
    he steps down."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        member = locks.member_by_id(db, membership_id, customer.id)
        if member is None:
            return NO_SUCH_MEMBER
        if member.id == actor.id:
            return Refused(Refusal.SELF_REMOVAL, "You cannot remove yourself from this "
                           "customer number. If you no longer want to administer it, step "
                           "down to user instead.")
        person = member.person
        Directory(db).remove_membership(member, actor=person_actor(actor.person))
        revoke_customer_grants(db, person.id, customer.id, "membership_removed")
        at = mail.when(utcnow())
        mail.queue(db, "membership.removed", "membership_removed",
                   f"You are no longer a member of customer {customer.number}", person,
                   customer, by=actor.person, at=at)
        tell(db, "membership.removed",
             f"{person.name} is no longer a member of customer {customer.number}",
             other_administrators(db, customer, actor), customer,
             f"{actor.person.name} removed {person.name} ({person.email}) from customer "
             f"{customer.number} on {at}.",
             f"{person.name}'s sign-ins for this customer number have stopped.")
        return Done(f"{person.name} is no longer a member of customer number "
                    f"{customer.number}: the sign-ins for it stopped at once.")


def set_second_factor_required(app: Flask, actor_id: str, customer_id: int, required: bool
                               ) -> Done | Refused:
    """Require a second factor of the customer's administrators, or not
    (enforced at sign-in, by the login)."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        if customer.second_factor_required == required:
            return Done("Nothing changed: a second factor was already "
                        f"{'required' if required else 'not required'}.")
        state = "required" if required else "no longer required"
        customer.second_factor_required = required
        Directory(db).record(SECOND_FACTOR_REQUIRED if required else SECOND_FACTOR_OPTIONAL,
                             person_actor(actor.person), customer=customer)
        tell(db, "customer.second_factor", f"Second factor {state} for the administrators of "
             f"customer {customer.number}", other_administrators(db, customer, actor),
             customer, f"{actor.person.name} made a second factor {state} for the "
             f"administrators of customer {customer.number} on {mail.when(utcnow())}.",
             "Each administrator signs in with a code from an authenticator app as well as "
             f"the password; set yours up on your account page: {absolute_url('account.home')}"
             if required else "Administrators who set up a second factor keep using it.")
        return Done(f"A second factor is now {state} for the administrators of this customer "
                    "number.")


def set_role_by_operator(app: Flask, email: str, typed_number: str, role: Role
                         ) -> Promoted | Done | Refused:
    """``keyholder member set-role``: the operator's correction, with the
    same lock, rules that bind the operator too (the directory's one
    administrator for a residential customer, raised as
    :class:`~idp.directory.errors.OneAdministratorOnly`), audit and e-mails as
    the console."""
    with database.write_session(app) as db:
        directory = Directory(db)
        person = directory.person(email)
        customer = directory.customer(typed_number)
        customer = locks.customer(db, customer.id)
        member = locks.membership(db, person.id, customer.id)
        if member is None:
            return NO_SUCH_MEMBER
        if member.role is role:
            return Done(f"{person.name} is already {role.value} of {customer.number}.")
        if role is Role.USER:
            _demote(db, member, customer, OPERATOR, "operator")
            others = [m.person for m in locks.administrators(db, customer.id)]
            tell(db, "membership.demoted", f"Administration of customer {customer.number}",
                 [person, *others], customer,
                 f"{person.name} is no longer an administrator of customer {customer.number}"
                 f" since {mail.when(utcnow())} (a correction by our helpdesk).",
                 "Please contact our helpdesk if this is not what you expected.")
            return Done(f"{person.name} is now user of {customer.number}.")
        return promote(db, member, customer, OPERATOR, how="operator")
