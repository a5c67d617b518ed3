"""The saved language (``Person.locale``) of the demo's people, for tests.

The demo gives Mary French and Philip Dutch, so their pages and e-mails are
in those languages; the tests that read the English wording set them back to
English first (:func:`in_english`), the others choose a language per person."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import update

from idp.directory.models import Person
from idp.infrastructure import database


def save_language(app: Flask, language: str, *emails: str) -> None:
    """Give the people of ``emails`` (everybody, without any) ``language``."""
    with database.new_session(app) as session:
        statement = update(Person).values(locale=language)
        if emails:
            statement = statement.where(Person.email.in_(emails))
        session.execute(statement)
        session.commit()


def in_english(request: pytest.FixtureRequest) -> None:
    """Everybody reads English, in the test's ``app`` or ``provider``, whichever
    it uses (call it from an autouse fixture of the module)."""
    for name in ("app", "provider"):
        if name in request.fixturenames:
            found = request.getfixturevalue(name)
            save_language(getattr(found, "app", found), "en")
