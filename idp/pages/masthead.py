"""The header every page of the provider and the console shares: the
operator's brand, the places to go (the self-care portal, the console), the
signed-in person with his role and a way to sign out, and the language
switcher (base.html; the markup is the one the services use too).

Templates read it as ``masthead``; the database is read only when a template
asks for the person, once per request. E-mails render templates outside a
request: they get no header data at all."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import Flask, current_app, g, has_request_context, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import SQLAlchemyError

from idp.directory.models import Person
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.edge import QUIET
from idp.login import sessions

# The console is mounted at /console by the assembly (keyholder/provider.py);
# the provider does not know its blueprint, only where it lives.
CONSOLE = "/console/"
# QUIET, in g: the brand only, no person and no switcher: the 500 page (the
# database may be the cause) and a refusal at the edge. It sets no cookie.
ROLE = "masthead_role"    # in g: the role the console is showing (several customers)


@dataclass(frozen=True)
class Place:
    label: str
    url: str
    current: bool = False


class Masthead:
    """What the header shows for this request."""

    @property
    def home(self) -> str:
        """Where the brand leads: the operator's portal, else the signed-in page."""
        return current_app.config["KEYHOLDER"].PORTAL_URL or url_for("login.signed_in")

    @cached_property
    def person(self) -> Person | None:
        if g.get(QUIET):
            return None
        try:
            sso = sessions.current(database.session())
        except SQLAlchemyError:  # a header must never turn a page into a 500
            return None
        return sso.person if sso is not None else None

    @cached_property
    def role(self) -> object | None:
        """The console's choice, else the role of his only membership (none
        when he belongs to several customers: which one would it be?)."""
        if g.get(ROLE):
            return g.get(ROLE)
        if self.person is None:
            return None
        try:
            memberships = Directory(database.session()).memberships_of(self.person)
        except SQLAlchemyError:
            return None
        return memberships[0].role if len(memberships) == 1 else None

    @cached_property
    def places(self) -> list[Place]:
        places = []
        portal = current_app.config["KEYHOLDER"].PORTAL_URL
        if portal:
            places.append(Place(_("Self-care"), portal))
        if self.person is not None:
            places.append(Place(_("Administration"), CONSOLE,
                                current=_in_console()))
        return places

    @property
    def csrf_token(self) -> str:
        """For the sign-out form (the same token as every form of the page)."""
        return generate_csrf()


def _in_console() -> bool:
    return request.path == CONSOLE.rstrip("/") or request.path.startswith(CONSOLE)


def masthead() -> dict:
    return {"masthead": Masthead()} if has_request_context() else {}


def init_app(app: Flask) -> None:
    app.context_processor(masthead)
