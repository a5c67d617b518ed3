"""What the operator's commands share: one transaction per command
(``unit_of_work``, ``reading``), refusals as one line (``refusing``), and
text fit for a terminal (``printable``, ``storable``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps

import click

from claims.customer_numbers import InvalidCustomerNumber
from claims.vocabulary import CustomerType, Role
from idp.directory.errors import DirectoryError, UnknownPerson
from idp.directory.models import Person
from idp.directory.services import Directory
from idp.infrastructure import database

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
