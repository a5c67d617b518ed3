"""The directory as JSON lines: ``keyholder export`` and ``keyholder import``.

One JSON object per line, its kind in ``"type"``; customers first (by
number), then persons (by e-mail address), then memberships (by customer
number, then e-mail address), so that two exports of one directory are equal
byte for byte::

    {"type": "customer", "number": "123456789", "name": "Smith ltd",
     "customer_type": "business", "self_promotion_open": true,
     "second_factor_required": false}
    {"type": "person", "email": "mary@smith.example", "sub": "...", "name": "Mary Jones",
     "email_verified": true, "status": "active", "locale": "en"}
    {"type": "membership", "customer": "123456789", "email": "mary@smith.example",
     "role": "administrator", "mobile": "+32470000002",
     "excluded_from_administration": false}

(each object on one line). Never a password hash, a second factor's secret,
a recovery code or any other secret: only the members above are written, and
only they are read.

Importing is idempotent: a customer (by number), a person (by e-mail address)
or a membership (by customer and person) that exists already is left exactly
as it is, whatever the file says of it, and counted as *kept* (and as
*differing* when the file says otherwise), so importing a file twice changes
nothing the second time. A person the import creates keeps the exported
``sub`` (when it is free; relying parties know people by it), has the
exported ``email_verified`` and status, and no usable password: the hash of
a random secret nobody knows, made by the app's password hasher (so signing
in costs the same time as for anyone else), until the person uses "Forgot
password?" or the operator runs ``keyholder person set-password``.

Every line is checked before anything is written, and the whole import is
one transaction: a bad line is one error naming its line number, and nothing
is imported."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.customer_numbers import InvalidCustomerNumber, normalise_customer_number
from claims.vocabulary import CustomerType, Role
from idp.directory.contacts import normalise_email, normalise_mobile, normalise_name
from idp.directory.errors import DirectoryError, InvalidInput
from idp.directory.models import Customer, Membership, Person, PersonStatus
from idp.directory.services import OPERATOR, AuditAction, Directory

MAX_LINE = 16 * 1024  # bytes; a line of ours is well under 1 KiB
BATCH = 1000  # rows an export reads at a time (a server-side cursor on PostgreSQL)
# What a subject (``Person.id``) may be: ours are 22 characters of base64url.
_SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
# A language tag (BCP 47) as the person's locale: letters, digits, hyphens.
_LOCALE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,5}", re.ASCII)
_LOCALE_MAX = 35

CUSTOMER, PERSON, MEMBERSHIP = "customer", "person", "membership"
KINDS = (CUSTOMER, PERSON, MEMBERSHIP)


class InvalidImport(InvalidInput):
    """A line of an import that cannot be imported; the reason names the line."""

    code = "invalid_import"


# -- export ------------------------------------------------------------------


def code_point_order(db: Session, column):
    """``column`` for ORDER BY, by code point on both databases (PostgreSQL's
    collation would follow a language's rules, ignoring dots and hyphens),
    so that one directory exports alike from either."""
    return column.collate("C" if db.get_bind().dialect.name == "postgresql" else "BINARY")


def _line(record: dict[str, Any]) -> str:
    # ASCII only: any terminal or pipe takes it, and U+2028 cannot split a line.
    return json.dumps(record, ensure_ascii=True, separators=(", ", ": "))


def export_lines(db: Session) -> Iterator[str]:
    """The directory as JSON lines (without their line ends), in a stable order."""
    customers = (select(Customer).order_by(code_point_order(db, Customer.number))
                 .execution_options(yield_per=BATCH))
    for customer in db.scalars(customers):
        yield _line({"type": CUSTOMER, "number": customer.number, "name": customer.name,
                     "customer_type": customer.type.value,
                     "self_promotion_open": customer.self_promotion_open,
                     "second_factor_required": customer.second_factor_required})
    persons = select(Person.email, Person.id, Person.name, Person.email_verified,
                     Person.status, Person.locale).order_by(code_point_order(db, Person.email))
    persons = persons.execution_options(yield_per=BATCH)
    for email, subject, name, verified, status, locale in db.execute(persons):
        yield _line({"type": PERSON, "email": email, "sub": subject, "name": name,
                     "email_verified": verified, "status": PersonStatus(status).value,
                     "locale": locale})
    memberships = (select(Customer.number, Person.email, Membership.role, Membership.mobile,
                          Membership.excluded_from_administration)
                   .join(Customer, Customer.id == Membership.customer_id)
                   .join(Person, Person.id == Membership.person_id)
                   .order_by(code_point_order(db, Customer.number),
                             code_point_order(db, Person.email))
                   .execution_options(yield_per=BATCH))
    for number, email, role, mobile, excluded in db.execute(memberships):
        yield _line({"type": MEMBERSHIP, "customer": number, "email": email,
                     "role": Role(role).value, "mobile": mobile,
                     "excluded_from_administration": excluded})


# -- reading the lines -----------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One line of an import, checked and in canonical form."""

    line: int
    kind: str
    values: dict[str, Any]


def _shown(value: str, limit: int = 40) -> str:
    """A piece of the input, safe to print in one line (quoted, escaped, short)."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[:limit - 4] + '..."'


def _text(values: dict, name: str, line: int, *, required: bool = True,
          default: str | None = None) -> str | None:
    if name not in values:
        if required:
            raise InvalidImport(f"Line {line}: a {values['type']} needs \"{name}\".")
        return default
    value = values[name]
    if value is None and not required:
        return default
    if not isinstance(value, str):
        raise InvalidImport(f"Line {line}: \"{name}\" must be text.")
    return value


def _flag(values: dict, name: str, line: int, default: bool) -> bool:
    value = values.get(name, default)
    if not isinstance(value, bool):
        raise InvalidImport(f"Line {line}: \"{name}\" must be true or false.")
    return value


def _choice(values: dict, name: str, line: int, choices: list[str], default: str | None
            ) -> str:
    value = _text(values, name, line, required=default is None, default=default)
    if value not in choices:
        raise InvalidImport(f"Line {line}: \"{name}\" is one of {', '.join(choices)}; "
                            f"not {_shown(value)}.")
    return value


def _checked(line: int, normalise: Callable[[str], str], value: str) -> str:
    try:
        return normalise(value)
    except (DirectoryError, InvalidCustomerNumber) as error:
        raise InvalidImport(f"Line {line}: {error.reason}") from None


def _customer(values: dict, line: int) -> dict[str, Any]:
    return {
        "number": _checked(line, normalise_customer_number, _text(values, "number", line)),
        "name": _checked(line, normalise_name, _text(values, "name", line)),
        "customer_type": _choice(values, "customer_type", line,
                                 [t.value for t in CustomerType], None),
        "self_promotion_open": _flag(values, "self_promotion_open", line, True),
        "second_factor_required": _flag(values, "second_factor_required", line, False),
    }


def _person(values: dict, line: int) -> dict[str, Any]:
    subject = _text(values, "sub", line, required=False)
    if subject is not None and not _SUBJECT.fullmatch(subject):
        raise InvalidImport(f"Line {line}: \"sub\" is 1 to 32 letters, digits, - or _; "
                            f"not {_shown(subject)}.")
    locale = _text(values, "locale", line, required=False, default="en")
    if len(locale) > _LOCALE_MAX or not _LOCALE.fullmatch(locale):
        raise InvalidImport(f"Line {line}: \"locale\" is a language tag such as en or "
                            f"nl-BE; not {_shown(locale)}.")
    return {
        "email": _checked(line, normalise_email, _text(values, "email", line)),
        "sub": subject,
        "name": _checked(line, normalise_name, _text(values, "name", line)),
        "email_verified": _flag(values, "email_verified", line, False),
        "status": _choice(values, "status", line, [s.value for s in PersonStatus],
                          PersonStatus.ACTIVE.value),
        "locale": locale,
    }


def _membership(values: dict, line: int) -> dict[str, Any]:
    mobile = _text(values, "mobile", line, required=False)
    return {
        "customer": _checked(line, normalise_customer_number, _text(values, "customer", line)),
        "email": _checked(line, normalise_email, _text(values, "email", line)),
        "role": _choice(values, "role", line, [r.value for r in Role], Role.USER.value),
        "mobile": _checked(line, normalise_mobile, mobile) if mobile is not None else None,
        "excluded_from_administration": _flag(values, "excluded_from_administration", line,
                                              False),
    }


READERS = {CUSTOMER: _customer, PERSON: _person, MEMBERSHIP: _membership}
MEMBERS = {CUSTOMER: {"type", "number", "name", "customer_type", "self_promotion_open",
                      "second_factor_required"},
           PERSON: {"type", "email", "sub", "name", "email_verified", "status", "locale"},
           MEMBERSHIP: {"type", "customer", "email", "role", "mobile",
                        "excluded_from_administration"}}


def _all_text_is_unicode(value: Any) -> bool:
    """Whether every string in ``value`` can be stored (no lone surrogate,
    which JSON's ``\\ud800`` escapes can make)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_all_text_is_unicode(k) and _all_text_is_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_all_text_is_unicode(v) for v in value)
    return True


def read_record(raw: bytes, line: int) -> Record | None:
    """The record on one line, or None for a blank line; raises InvalidImport."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidImport(f"Line {line} is not UTF-8 text.") from None
    if not text.strip():
        return None
    try:
        values = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, too many digits, too deep
        raise InvalidImport(f"Line {line} is not a JSON object.") from None
    if not isinstance(values, dict):
        raise InvalidImport(f"Line {line} is not a JSON object.")
    if not _all_text_is_unicode(values):
        raise InvalidImport(f"Line {line} holds text that is not valid Unicode.")
    kind = values.get("type")
    if kind not in KINDS:
        shown = _shown(kind) if isinstance(kind, str) else "missing"
        raise InvalidImport(f"Line {line}: \"type\" is one of {', '.join(KINDS)}; "
                            f"not {shown}.")
    unknown = sorted(set(values) - MEMBERS[kind])
    if unknown:
        raise InvalidImport(f"Line {line}: a {kind} has no member {_shown(unknown[0])} "
                            "(an export holds no secret, and an import reads none).")
    return Record(line, kind, READERS[kind](values, line))


def _key(record: Record) -> tuple:
    values = record.values
    if record.kind == CUSTOMER:
        return (CUSTOMER, values["number"])
    if record.kind == PERSON:
        return (PERSON, values["email"])
    return (MEMBERSHIP, values["customer"], values["email"])


def _describe(key: tuple) -> str:
    if key[0] == CUSTOMER:
        return f"customer {key[1]}"
    if key[0] == PERSON:
        return f"person {key[1]}"
    return f"membership of {key[2]} in {key[1]}"


def read_lines(stream: IO[bytes]) -> list[Record]:
    """Every record of ``stream``, checked; raises InvalidImport at the first
    bad line (too long, not UTF-8, not a JSON object, an unknown kind or
    member, a bad value, a record that is on an earlier line already)."""
    records: list[Record] = []
    seen: dict[tuple, int] = {}
    line = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            break
        line += 1
        if len(raw) > MAX_LINE:
            raise InvalidImport(f"Line {line} is longer than {MAX_LINE // 1024} KiB.")
        record = read_record(raw, line)
        if record is None:
            continue
        keys = [_key(record)]
        if record.kind == PERSON and record.values["sub"] is not None:
            keys.append(("sub", record.values["sub"]))
        for key in keys:
            if key in seen:
                what = (f"the subject {_shown(key[1])}" if key[0] == "sub"
                        else _describe(key))
                raise InvalidImport(f"Line {line}: {what} is on line {seen[key]} already.")
            seen[key] = line
        records.append(record)
    return records


# -- importing -----------------------------------------------------------------


@dataclass
class Tally:
    """What the import did with one kind of record."""

    added: int = 0
    kept: int = 0
    differing: int = 0  # of the kept: the file says otherwise (and was not followed)

    def keep(self, differs: bool) -> None:
        self.kept += 1
        self.differing += differs


@dataclass
class Outcome:
    lines: int = 0
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})


def unusable_password_hash(hasher) -> str:
    """The hash of a random secret that nobody is told: a password no one can
    type, verified at the same cost as any other. One is made per import (a
    hash costs a tenth of a second or more) and shared by the persons it adds."""
    return hasher.hash(secrets.token_urlsafe(32))


def _line_error(record: Record, error: DirectoryError | InvalidCustomerNumber
                ) -> InvalidImport:
    return InvalidImport(f"Line {record.line}: {error.reason}")


def import_records(directory: Directory, records: list[Record], password_hash: str,
                   actor: str = OPERATOR) -> Outcome:
    """Add what ``records`` hold and the directory does not, in the caller's
    transaction; raises InvalidImport (naming the line) having added nothing
    the caller may keep: the caller rolls back."""
    outcome = Outcome(lines=len(records))
    customers: dict[str, Customer] = {}
    persons: dict[str, Person] = {}
    order = sorted(records, key=lambda r: (KINDS.index(r.kind), r.line))
    for record in order:
        try:
            if record.kind == CUSTOMER:
                _import_customer(directory, record, customers, outcome, actor)
            elif record.kind == PERSON:
                _import_person(directory, record, password_hash, persons, outcome, actor)
            else:
                _import_membership(directory, record, customers, persons, outcome, actor)
        except InvalidImport:
            raise
        except (DirectoryError, InvalidCustomerNumber) as error:
            raise _line_error(record, error) from None
    return outcome


def _import_customer(directory: Directory, record: Record, customers: dict[str, Customer],
                     outcome: Outcome, actor: str) -> None:
    values = record.values
    tally = outcome.tallies[CUSTOMER]
    existing = directory.find_customer(values["number"])
    if existing is not None:
        tally.keep((existing.name, existing.type.value, existing.self_promotion_open,
                    existing.second_factor_required)
                   != (values["name"], values["customer_type"], values["self_promotion_open"],
                       values["second_factor_required"]))
        customers[values["number"]] = existing
        return
    customer = directory.add_customer(values["number"], values["name"], values["customer_type"],
                                      actor=actor)
    customer.self_promotion_open = values["self_promotion_open"]
    customer.second_factor_required = values["second_factor_required"]
    customers[values["number"]] = customer
    tally.added += 1


def _import_person(directory: Directory, record: Record, password_hash: str,
                   persons: dict[str, Person], outcome: Outcome, actor: str) -> None:
    values = record.values
    tally = outcome.tallies[PERSON]
    existing = directory.find_person(values["email"])
    if existing is not None:
        tally.keep((existing.name, existing.email_verified, existing.status.value,
                    existing.locale, existing.id)
                   != (values["name"], values["email_verified"], values["status"],
                       values["locale"], values["sub"] or existing.id))
        persons[values["email"]] = existing
        return
    subject = values["sub"]
    if subject is not None and directory.person_by_subject(subject) is not None:
        raise InvalidImport(f"Line {record.line}: another person has the subject "
                            f"{_shown(subject)} (an e-mail address changed since the export?).")
    # As Directory.add_person, with the exported subject when there is one.
    person = Person(email=values["email"], name=values["name"], password_hash=password_hash,
                    email_verified=values["email_verified"], locale=values["locale"])
    if subject is not None:
        person.id = subject
    directory.session.add(person)
    directory.session.flush()
    directory.record(AuditAction.PERSON_ADDED, actor, person=person)
    if values["status"] == PersonStatus.SUSPENDED.value:
        directory.set_suspended(person, True, actor=actor)
    persons[values["email"]] = person
    tally.added += 1


def _import_membership(directory: Directory, record: Record, customers: dict[str, Customer],
                       persons: dict[str, Person], outcome: Outcome, actor: str) -> None:
    values = record.values
    tally = outcome.tallies[MEMBERSHIP]
    customer = customers.get(values["customer"]) or directory.find_customer(values["customer"])
    if customer is None:
        raise InvalidImport(f"Line {record.line}: there is no customer {values['customer']}, "
                            "neither in the file nor in the directory.")
    person = persons.get(values["email"]) or directory.find_person(values["email"])
    if person is None:
        raise InvalidImport(f"Line {record.line}: there is no person {values['email']}, "
                            "neither in the file nor in the directory.")
    existing = directory.membership(person, customer)
    if existing is not None:
        tally.keep((existing.role.value, existing.mobile, existing.excluded_from_administration)
                   != (values["role"], values["mobile"], values["excluded_from_administration"]))
        return
    membership = directory.add_membership(person, customer, values["role"], values["mobile"],
                                          actor=actor)
    membership.excluded_from_administration = values["excluded_from_administration"]
    tally.added += 1

