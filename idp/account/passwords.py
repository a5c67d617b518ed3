"""Setting a person's password, whichever way it happens: by the link of a
forgotten password, changed while signed in, or reset by the operator.

One transaction, whatever the way: the new hash (the policy of
:mod:`idp.infrastructure.passwords`, which refuses the most common
passwords), then every SSO session and token family of the person ends but
the session that made the change (their clients told by back-channel
logout), the audit event (which the security events turn into a CAEP
credential-change), and an e-mail to the person."""

from __future__ import annotations

import unicodedata

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from idp.account.verification import absolute_url
from idp.directory.models import Person, utcnow
from idp.directory.services import AuditAction, Directory
from idp.i18n import _l
from idp.infrastructure.passwords import MAX_LENGTH, MIN_LENGTH, PASSWORDS
from idp.login import sessions
from idp.login.models import SsoSession
from idp.outbox import mail
from idp.protocol.tokens.family_revocation import revoke_person_grants_but

HOW = ("changed", "reset", "operator")
CHANGED_SUBJECT = _l("Your password was changed")


def set_password(db: Session, person: Person, password: str, *, actor: str, how: str,
                 keep: SsoSession | None = None) -> int:
    """Give ``person`` the new ``password`` (raises InvalidPassword, changing
    nothing); returns how many other sessions ended."""
    if how not in HOW:
        raise ValueError(f"how is one of {HOW}")
    person.password_hash = current_app.extensions[PASSWORDS].hash(password)
    person.password_changed_at = utcnow()
    ended = sessions.end_all_of(db, person.id, keep=keep)
    revoke_person_grants_but(db, person.id, keep.id if keep is not None else None,
                             "password_changed")
    Directory(db).record(AuditAction.PASSWORD_CHANGED, actor, person=person, how=how)
    mail.queue(db, "password.changed", "password_changed", CHANGED_SUBJECT, person, None,
               how=how, at=person.password_changed_at,
               forgot_url=absolute_url("account.forgot_password"))
    return ended


def policy_words() -> str:
    """The policy, for the page where a new password is typed."""
    return _("At least %(num)d characters, and not one of the most common passwords; no other "
             "rules. A few unrelated words make a long password that is easy to remember and "
             "hard to guess.", num=MIN_LENGTH)


def refusal_words(password: str) -> str:
    """Why the policy refused ``password`` (InvalidPassword), in the page's
    language: the policy's own reason is English, for the command line."""
    length = len(unicodedata.normalize("NFKC", password))
    if length < MIN_LENGTH:
        return _("A password has at least %(num)d characters.", num=MIN_LENGTH)
    if length > MAX_LENGTH:
        return _("A password has at most %(num)d characters.", num=MAX_LENGTH)
    return _("This password is one of the most common ones, which are tried first by anyone "
             "guessing. Please choose another.")
