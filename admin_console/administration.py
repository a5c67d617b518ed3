"""What administrators do in the console, and the operator's correction.

Every action is one transaction that takes the customer's lock, checks that
the actor is (still) an administrator of *that* customer and that the member
acted on belongs to it, then changes, audits and queues its e-mails
("Every change is audited and told", docs/security.md); what they share is
:mod:`admin_console.acting`. Invitations are :mod:`admin_console.invitations`."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _

from admin_console.acting import (  # noqa: F401 (Done and the rest are used from here too)
    NO_SUCH_MEMBER,
    NOT_ADMINISTRATOR,
    Done,
    as_administrator,
    demote,
    moment,
    other_administrators,
    tell,
)
from admin_console.eligibility import Refusal, Refused, names
from admin_console.promotion import Promoted, promote
from claims.vocabulary import CustomerType, Role
from idp.account.verification import absolute_url
from idp.directory import locks
from idp.directory.administrators import make_administrator
from idp.directory.models import Customer, utcnow
from idp.directory.services import OPERATOR, AuditAction, Directory, person_actor
from idp.i18n import LazyText as LazyString
from idp.i18n import _l
from idp.infrastructure import database
from idp.outbox import mail
from idp.protocol.tokens.family_revocation import revoke_customer_grants

# Audit actions of the console's own (details hold no secret).
SECOND_FACTOR_REQUIRED = "customer.second_factor_required"
SECOND_FACTOR_OPTIONAL = "customer.second_factor_optional"


def _how_users_become_administrators(customer: Customer) -> LazyString:
    if customer.type is CustomerType.RESIDENTIAL:
        return _l("Users can no longer become administrator by themselves; the administrator "
                  "can still hand administration over to a member.")
    return _l("Users can no longer become administrator by themselves; an administrator can "
              "still make them one on the Members page.")


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
        name, number = member.person.name, customer.number
        if member.role is Role.ADMINISTRATOR:
            return Refused(Refusal.NOT_A_USER, _(
                "%(name)s is an administrator already; only users can be excluded from "
                "administration.", name=name))
        if member.excluded_from_administration == excluded:
            return Done(_("%(name)s is already excluded from administration.", name=name)
                        if excluded else
                        _("%(name)s is already allowed administration.", name=name))
        member.excluded_from_administration = excluded
        Directory(db).record(AuditAction.MEMBER_EXCLUDED if excluded
                             else AuditAction.MEMBER_INCLUDED, person_actor(actor.person),
                             customer=customer, person=member.person)
        summary = _l("%(actor)s excluded you from administration of customer %(number)s.",
                     actor=actor.person.name, number=number) if excluded else \
            _l("%(actor)s allowed you again to take up administration of customer %(number)s.",
               actor=actor.person.name, number=number)
        tell(db, "membership.exclusion", _l("Administration of customer %(number)s",
                                            number=number),
             [member.person], customer, summary,
             _l("Please ask an administrator of your customer number if you have questions."))
        return Done(_("%(name)s can no longer become administrator by himself or herself.",
                      name=name) if excluded else
                    _("%(name)s can again become administrator by himself or herself.",
                      name=name))


def set_self_promotion(app: Flask, actor_id: str, customer_id: int, open_: bool
                       ) -> Done | Refused:
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        if customer.self_promotion_open == open_:
            return Done(_("Nothing changed: self-promotion was already open.") if open_
                        else _("Nothing changed: self-promotion was already closed."))
        customer.self_promotion_open = open_
        Directory(db).record(AuditAction.SELF_PROMOTION_OPENED if open_
                             else AuditAction.SELF_PROMOTION_CLOSED,
                             person_actor(actor.person), customer=customer)
        others = other_administrators(db, customer, actor)
        words = {"actor": actor.person.name, "number": customer.number, "at": moment()}
        if open_:
            tell(db, "customer.self_promotion_opened",
                 _l("Self-promotion opened for customer %(number)s", **words), others,
                 customer, _l("%(actor)s opened self-promotion for customer %(number)s on "
                              "%(at)s.", **words),
                 _l("Users can now become administrator by themselves."))
            return Done(_("Self-promotion is now open."))
        tell(db, "customer.self_promotion_closed",
             _l("Self-promotion closed for customer %(number)s", **words), others, customer,
             _l("%(actor)s closed self-promotion for customer %(number)s on %(at)s.", **words),
             _how_users_become_administrators(customer))
        return Done(_("Self-promotion is now closed."))


def step_down(app: Flask, actor_id: str, customer_id: int) -> Done | Refused:
    """The administrator becomes a user (the page asked for a confirmation)."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        demote(db, actor, customer, person_actor(actor.person), "stepped down")
        others = other_administrators(db, customer, actor)
        words = {"name": actor.person.name, "number": customer.number, "at": moment()}
        tell(db, "membership.stepped_down",
             _l("%(name)s is no longer an administrator of customer %(number)s", **words),
             others, customer,
             _l("%(name)s stepped down as administrator of customer %(number)s on %(at)s.",
                **words), _l("You remain an administrator."))
        tell(db, "membership.stepped_down",
             _l("You are now a user of customer %(number)s", **words), [actor.person],
             customer, _l("You stepped down as administrator of customer %(number)s on "
                          "%(at)s.", **words),
             _l("You can become administrator again in the console, unless an administrator "
                "excludes you or closes self-promotion.") if others else
             _l("The customer number has no administrator now; you can become one again in "
                "the console."))
        return Done(_("You are now a user of this customer number.") if others else
                    _("You are now a user of this customer number. It has no administrator "
                      "any more."))


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
            return Refused(Refusal.NOT_RESIDENTIAL, _(
                "Handing over is for residential customers; a business customer can have "
                "several administrators."))
        member = locks.member_by_id(db, membership_id, customer.id)
        if member is None or member.id == actor.id:
            return NO_SUCH_MEMBER
        if not member.person.is_active:
            return Refused(Refusal.SUSPENDED, _("%(name)s's account is suspended.",
                                                name=member.person.name))
        by = person_actor(actor.person)
        demote(db, actor, customer, by, "handed over")
        make_administrator(db, member)  # the customer has no administrator now
        Directory(db).record(AuditAction.PROMOTED, by, customer=customer, person=member.person,
                             how="handed over")
        words = {"name": member.person.name, "actor": actor.person.name,
                 "number": customer.number, "at": moment()}
        tell(db, "membership.handed_over", _l("Administration of customer %(number)s", **words),
             [actor.person], customer,
             _l("You handed administration of customer %(number)s over to %(name)s on %(at)s. "
                "You are now a user.", **words),
             _l("%(name)s can hand it back to you in the console.", **words))
        tell(db, "membership.handed_over",
             _l("You are now the administrator of customer %(number)s", **words),
             [member.person], customer,
             _l("%(actor)s handed administration of customer %(number)s over to you on %(at)s.",
                **words),
             _l("You can now see and manage everything of this customer number in the "
                "console."))
        return Done(_("%(name)s is now the administrator; you are a user.",
                      name=member.person.name))


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
            return Refused(Refusal.NOT_BUSINESS, _(
                "A residential customer has one administrator: hand administration over "
                "instead."))
        member = locks.member_by_id(db, membership_id, customer.id)
        if member is None:
            return NO_SUCH_MEMBER
        name = member.person.name
        if member.role is Role.ADMINISTRATOR:
            return Done(_("%(name)s is already an administrator.", name=name))
        if not member.person.is_active:
            return Refused(Refusal.SUSPENDED, _("%(name)s's account is suspended.", name=name))
        if not member.person.email_verified:
            # Administrators are told of changes by e-mail, whoever promotes them.
            return Refused(Refusal.UNVERIFIED, _(
                "%(name)s has not confirmed the e-mail address %(email)s yet, and "
                "administrators are told of changes by e-mail. %(name)s can send the "
                "confirmation link again from the console.", name=name,
                email=member.person.email))
        promoted = promote(db, member, customer, person_actor(actor.person),
                           how="by an administrator")
        return Done(_("%(name)s is now an administrator of customer number %(number)s. We told "
                      "%(name)s and the other administrators (%(others)s) by e-mail.",
                      name=name, number=customer.number, others=names(promoted.told, "and")))


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
            return Refused(Refusal.SELF_REMOVAL, _(
                "You cannot remove yourself from this customer number. If you no longer want "
                "to administer it, step down to user instead."))
        person = member.person
        Directory(db).remove_membership(member, actor=person_actor(actor.person))
        revoke_customer_grants(db, person.id, customer.id, "membership_removed")
        now = utcnow()
        words = {"name": person.name, "email": person.email, "actor": actor.person.name,
                 "number": customer.number, "at": moment(now)}
        mail.queue(db, "membership.removed", "membership_removed",
                   _l("You are no longer a member of customer %(number)s", **words), person,
                   customer, by=actor.person, at=now)
        tell(db, "membership.removed",
             _l("%(name)s is no longer a member of customer %(number)s", **words),
             other_administrators(db, customer, actor), customer,
             _l("%(actor)s removed %(name)s (%(email)s) from customer %(number)s on %(at)s.",
                **words),
             _l("%(name)s's sign-ins for this customer number have stopped.", **words))
        return Done(_("%(name)s is no longer a member of customer number %(number)s: the "
                      "sign-ins for it stopped at once.", **words))


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
            return Done(_("Nothing changed: a second factor was already required.") if required
                        else _("Nothing changed: a second factor was already not required."))
        customer.second_factor_required = required
        Directory(db).record(SECOND_FACTOR_REQUIRED if required else SECOND_FACTOR_OPTIONAL,
                             person_actor(actor.person), customer=customer)
        others = other_administrators(db, customer, actor)
        words = {"actor": actor.person.name, "number": customer.number, "at": moment()}
        if required:
            tell(db, "customer.second_factor", _l(
                "Second factor required for the administrators of customer %(number)s",
                **words), others, customer, _l(
                "%(actor)s made a second factor required for the administrators of customer "
                "%(number)s on %(at)s.", **words), _l(
                "Each administrator signs in with a code from an authenticator app as well as "
                "the password; set yours up on your account page: %(url)s",
                url=absolute_url("account.home")))
            return Done(_("A second factor is now required for the administrators of this "
                          "customer number."))
        tell(db, "customer.second_factor", _l(
            "Second factor no longer required for the administrators of customer %(number)s",
            **words), others, customer, _l(
            "%(actor)s made a second factor no longer required for the administrators of "
            "customer %(number)s on %(at)s.", **words),
            _l("Administrators who set up a second factor keep using it."))
        return Done(_("A second factor is now no longer required for the administrators of "
                      "this customer number."))


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
            demote(db, member, customer, OPERATOR, "operator")
            others = [m.person for m in locks.administrators(db, customer.id)]
            words = {"name": person.name, "number": customer.number, "at": moment()}
            tell(db, "membership.demoted", _l("Administration of customer %(number)s", **words),
                 [person, *others], customer,
                 _l("%(name)s is no longer an administrator of customer %(number)s since "
                    "%(at)s (a correction by our helpdesk).", **words),
                 _l("Please contact our helpdesk if this is not what you expected."))
            return Done(f"{person.name} is now user of {customer.number}.")
        return promote(db, member, customer, OPERATOR, how="operator")
