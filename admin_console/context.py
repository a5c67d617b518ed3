"""Who is using the console, for which customer, and the checks every
console request passes: a live SSO session (else the login page, then back),
and for every POST the CSRF token and a same-origin ``Origin`` header."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_babel import gettext as _

from idp.directory.models import Customer, Membership, Person
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.security_headers import same_origin
from idp.login import sessions
from idp.login.models import SsoSession

CHOSEN = "console_customer"  # key in the signed Flask session


@dataclass(frozen=True)
class Console:
    sso: SsoSession
    person: Person
    memberships: tuple[Membership, ...]
    membership: Membership | None  # the customer shown; None: the person belongs to none

    @property
    def customer(self) -> Customer | None:
        return self.membership.customer if self.membership else None

    @property
    def is_administrator(self) -> bool:
        return self.membership is not None and self.membership.is_administrator


def _same_origin() -> bool:
    return same_origin(current_app.config["KEYHOLDER"].ISSUER)


def load() -> Console | None:
    """The console for this request, or None when nobody is signed in."""
    if "console" in g:
        return g.console
    db = database.session()
    sso = sessions.current(db)
    if sso is None:
        return None
    memberships = tuple(Directory(db).memberships_of(sso.person))
    wanted = session.get(CHOSEN)
    chosen = next((m for m in memberships if m.customer.number == wanted), None)
    g.console = Console(sso, sso.person, memberships,
                        chosen or (memberships[0] if memberships else None))
    if g.console.membership is not None:  # the shared header shows this role (idp.pages.masthead)
        g.masthead_role = g.console.membership.role.value
        g.masthead_customer = g.console.customer.number
    return g.console


def guard():
    """``before_request`` of the console blueprint."""
    if request.method == "POST" and not _same_origin():
        abort(403, _("This form was sent from another site, so nothing was changed."))
    if load() is None:
        return redirect(url_for("login.login", next=request.full_path.rstrip("?")))
    return None


def choose(number: str) -> bool:
    """Show the console for another of the person's customers."""
    console = load()
    if any(m.customer.number == number for m in console.memberships):
        session[CHOSEN] = number
        return True
    return False
