"""``keyholder export`` and ``keyholder import``: the directory as JSON lines,
never a secret; an import that is idempotent, adds persons without a usable
password, and refuses a bad line by its number having imported nothing (on
SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.directory.models import AuditEvent, Customer, Membership, Person, PersonStatus
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from tests.snapshots import snapshot

SMITH, TAYLOR = "123456789", "987654321"
MARY_SUB = "mary-subject-0000000001"

# A directory as an export writes it: the file the round trip starts from.
LINES = [
    {"type": "customer", "number": SMITH, "name": "Smith ltd", "customer_type": "business",
     "self_promotion_open": False, "second_factor_required": True},
    {"type": "customer", "number": TAYLOR, "name": "Taylor household",
     "customer_type": "residential", "self_promotion_open": True,
     "second_factor_required": False},
    {"type": "person", "email": "emma@taylor.example", "sub": "emma-subject-000000002",
     "name": "Emma Taylor", "email_verified": False, "status": "suspended", "locale": "nl-BE"},
    {"type": "person", "email": "mary@smith.example", "sub": MARY_SUB,
     "name": "Mary Jones-Ødegård", "email_verified": True, "status": "active", "locale": "en"},
    {"type": "person", "email": "solo@example.com", "sub": "solo-subject-000000003",
     "name": "Solo", "email_verified": True, "status": "active", "locale": "en"},
    {"type": "membership", "customer": SMITH, "email": "mary@smith.example",
     "role": "administrator", "mobile": "+32470000001", "excluded_from_administration": False},
    {"type": "membership", "customer": TAYLOR, "email": "emma@taylor.example",
     "role": "administrator", "mobile": None, "excluded_from_administration": False},
    {"type": "membership", "customer": TAYLOR, "email": "mary@smith.example", "role": "user",
     "mobile": None, "excluded_from_administration": True},
]


def jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=True, separators=(", ", ": ")) + "\n"
                   for r in records)


def run(runner, *args, stdin=None):
    result = runner.invoke(args=list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def imported(runner):
    return run(runner, "import", stdin=jsonl(LINES))


def test_import_into_an_empty_directory_then_export_gives_the_file_back(app, runner,
                                                                         imported):
    assert imported.splitlines() == [
        "customers:    2 added, 0 kept",
        "persons:      3 added, 0 kept",
        "memberships:  3 added, 0 kept",
        "The persons added have no usable password yet: they choose one with \"Forgot "
        "password?\", or use `keyholder person set-password`."]
    exported = run(runner, "export")
    assert exported == jsonl(LINES)
    assert run(runner, "export") == exported  # stable


def test_imported_persons_have_no_usable_password_and_what_was_exported(app, runner, imported):
    with database.new_session(app) as db:
        mary = db.get(Person, MARY_SUB)
        assert mary.email == "mary@smith.example" and mary.email_verified
        emma = db.scalar(select(Person).where(Person.email == "emma@taylor.example"))
        assert emma.status is PersonStatus.SUSPENDED and not emma.email_verified
        assert emma.locale == "nl-BE"
        passwords = app.extensions[PASSWORDS]
        for person in (mary, emma):
            assert person.password_hash.startswith("$argon2id$")
            assert not passwords.verify(person.password_hash, "").ok
            assert not passwords.verify(person.password_hash, "a fine password").ok
        smith = db.scalar(select(Customer).where(Customer.number == SMITH))
        assert not smith.self_promotion_open and smith.second_factor_required
        actions = sorted(db.scalars(select(AuditEvent.action)))
        assert actions.count("person.added") == 3 and actions.count("customer.added") == 2
        assert actions.count("membership.added") == 3
        assert actions.count("person.suspended") == 1
        assert {e.actor for e in db.scalars(select(AuditEvent))} == {"operator"}


def test_importing_again_changes_nothing(app, runner, imported):
    before = snapshot(app)
    assert run(runner, "import", stdin=jsonl(LINES)).splitlines() == [
        "customers:    0 added, 2 kept",
        "persons:      0 added, 3 kept",
        "memberships:  0 added, 3 kept"]
    assert snapshot(app) == before


def test_what_exists_is_left_as_it_is_and_counted_as_differing(app, runner, imported):
    changed = [dict(r) for r in LINES]
    changed[0]["name"] = "Smith and sons"                 # a customer
    changed[3]["name"] = "Mary Smith"                     # a person
    changed[5]["role"] = "user"                           # a membership
    changed.append({"type": "person", "email": "new@example.com", "name": "New"})
    before = snapshot(app)
    out = run(runner, "import", stdin=jsonl(changed))
    assert out.splitlines()[:3] == [
        "customers:    0 added, 2 kept (1 not as in the file: left as they are)",
        "persons:      1 added, 3 kept (1 not as in the file: left as they are)",
        "memberships:  0 added, 3 kept (1 not as in the file: left as they are)"]
    after = snapshot(app)
    assert after["customer"] == before["customer"]
    assert after["membership"] == before["membership"]
    with database.new_session(app) as db:
        assert db.get(Person, MARY_SUB).name == "Mary Jones-Ødegård"
        new = db.scalar(select(Person).where(Person.email == "new@example.com"))
        assert not new.email_verified and new.status is PersonStatus.ACTIVE
        assert len(new.id) == 22  # a subject of its own


def test_export_holds_no_secret(app, runner, imported):
    run(runner, "person", "set-password", "solo@example.com", "--password-stdin",
        stdin="a secret passphrase\n")
    with database.new_session(app) as db:
        solo = db.scalar(select(Person).where(Person.email == "solo@example.com"))
        solo.totp_secret = "TOTPSECRETVALUEXYZ"
        db.commit()
        hashes = list(db.scalars(select(Person.password_hash)))
    exported = run(runner, "export")
    for secret in (*hashes, "TOTPSECRETVALUEXYZ", "a secret passphrase", "argon2"):
        assert secret not in exported
    members = {r["type"]: set(r) for r in map(json.loads, exported.splitlines())}
    assert members == {
        "customer": {"type", "number", "name", "customer_type", "self_promotion_open",
                     "second_factor_required"},
        "person": {"type", "email", "sub", "name", "email_verified", "status", "locale"},
        "membership": {"type", "customer", "email", "role", "mobile",
                       "excluded_from_administration"}}
    assert exported.isascii()


def test_order_is_by_code_point_on_both_databases(runner):
    # PostgreSQL's language collation would put "a-c" after "ab" (it ignores
    # hyphens); the export orders as SQLite does, by code point.
    persons = [{"type": "person", "email": email, "name": "X"}
               for email in ("ab@example.com", "a-c@example.com", "a.d@example.com",
                             "zoë@example.com", "zoe@example.com")]
    run(runner, "import", stdin=jsonl(persons))
    exported = [json.loads(line)["email"] for line in run(runner, "export").splitlines()]
    assert exported == sorted(exported)
    assert run(runner, "person", "list").splitlines()[0].startswith("a-c@example.com  ")


def test_blank_lines_and_an_empty_input_are_fine(app, runner):
    assert run(runner, "import", stdin="").splitlines()[0] == "customers:    0 added, 0 kept"
    assert run(runner, "import", stdin="\n  \n" + jsonl(LINES[:1]) + "\n").splitlines()[0] == \
        "customers:    1 added, 0 kept"


def test_lines_may_come_in_any_order(app, runner):
    run(runner, "import", stdin=jsonl(reversed(LINES)))
    assert run(runner, "export") == jsonl(LINES)


def test_an_import_joins_what_the_directory_has_already(app, runner):
    run(runner, "customer", "add", SMITH, "--name", "Smith ltd", "--type", "business")
    run(runner, "person", "add", "mary@smith.example", "--name", "Mary", "--password-stdin",
        stdin="a fine password\n")
    out = run(runner, "import", stdin=jsonl([LINES[5]]))
    assert out.splitlines()[2] == "memberships:  1 added, 0 kept"
    with database.new_session(app) as db:
        (membership,) = db.scalars(select(Membership))
        assert membership.mobile == "+32470000001"


# -- bad lines --------------------------------------------------------------------

GOOD = jsonl(LINES[:2])  # two good lines first: they must not be imported either


def line(**values) -> str:
    return json.dumps(values) + "\n"


BAD = [
    ("not json\n", "Line 3 is not a JSON object."),
    ("[1, 2]\n", "Line 3 is not a JSON object."),
    ('"text"\n', "Line 3 is not a JSON object."),
    ('{"type": "customer", \x00"number": "111222333"}\n', "Line 3 is not a JSON object."),
    ("[" * 50_000 + "]" * 50_000 + "\n", "Line 3 is longer than 16 KiB."),
    ("[" * 5_000 + "]" * 5_000 + "\n", "Line 3 is not a JSON object."),
    ('{"type": "customer", "number": ' + "9" * 5000 + "}\n", "Line 3 is not a JSON object."),
    ("x" * 1_000_000, "Line 3 is longer than 16 KiB."),
    (b'{"type": "person", "email": "\xff@example.com", "name": "X"}\n'.decode("latin-1"),
     "Line 3 is not UTF-8 text."),
    (line(type="person", email="x@example.com", name="X\ud800"),
     "Line 3 holds text that is not valid Unicode."),
    (line(type="person", email="x@example.com", name="X\u0000Y"),
     "Line 3: A name has at most 200 printable characters."),
    (line(type="person", email="x\u0000@example.com", name="X"),
     "Line 3: This is not an e-mail address."),
    (line(type="customer", number="111\u0000222333", name="X", customer_type="business"),
     "Line 3: A customer number has only digits"),
    (line(type="group", name="X"), 'Line 3: "type" is one of customer, person, membership; '
     'not "group".'),
    (line(name="X"), 'Line 3: "type" is one of customer, person, membership; not missing.'),
    (line(type="person", email="x@example.com", name="X", password_hash="$argon2id$..."),
     'Line 3: a person has no member "password_hash"'),
    (line(type="person", email="x@example.com", name="X", totp_secret="ABC"),
     'Line 3: a person has no member "totp_secret"'),
    (line(type="person", email="x@example.com", name="X", **{"\u0000" * 100: 1}),
     'Line 3: a person has no member "\\u0000\\u0000'),
    (line(type="person", email="x@example.com"), 'Line 3: a person needs "name".'),
    (line(type="person", email=["x@example.com"], name="X"), 'Line 3: "email" must be text.'),
    (line(type="person", email="x@example.com", name="X", email_verified="yes"),
     'Line 3: "email_verified" must be true or false.'),
    (line(type="person", email="x@example.com", name="X", email_verified=1),
     'Line 3: "email_verified" must be true or false.'),
    (line(type="person", email="x@example.com", name="X", status="deleted"),
     'Line 3: "status" is one of active, suspended; not "deleted".'),
    (line(type="person", email="x@example.com", name="X", sub="a/b"),
     'Line 3: "sub" is 1 to 32 letters, digits, - or _; not "a/b".'),
    (line(type="person", email="x@example.com", name="X", sub="s" * 33),
     'Line 3: "sub" is 1 to 32 letters'),
    (line(type="person", email="x@example.com", name="X", locale="en_US\u0000"),
     'Line 3: "locale" is a language tag such as en or nl-BE; not "en_US\\u0000".'),
    (line(type="person", email="x@example.com", name="N" * 201),
     "Line 3: A name has at most 200 printable characters."),
    (line(type="customer", number="12345678", name="X", customer_type="business"),
     "Line 3: A customer number has exactly 9 digits; this has 8."),
    (line(type="customer", number=SMITH, name="Again", customer_type="business"),
     "Line 3: customer 123456789 is on line 1 already."),
    (line(type="customer", number="111222333", name="X", customer_type="company"),
     'Line 3: "customer_type" is one of business, residential; not "company".'),
    (line(type="membership", customer="111222333", email="x@example.com"),
     "Line 3: there is no customer 111222333, neither in the file nor in the directory."),
    (line(type="membership", customer=SMITH, email="nobody@example.com"),
     "Line 3: there is no person nobody@example.com, neither in the file nor in the "
     "directory."),
    (line(type="membership", customer=SMITH, email="held@example.com", mobile="0470 12 34 56"),
     "Line 3: A mobile number is written with + and the country code"),
    (line(type="membership", customer=SMITH, email="held@example.com", role="owner"),
     'Line 3: "role" is one of administrator, user; not "owner".'),
    (line(type="person", email="new@example.com", name="New") +
     line(type="membership", customer=TAYLOR, email="new@example.com", role="administrator"),
     "Line 4: Customer 987654321 is residential and has an administrator (Held Here); a "
     "residential customer has one at most."),
    (line(type="person", email="other@example.com", name="Other", sub="held-subject"),
     'Line 3: another person has the subject "held-subject"'),
    (line(type="person", email="a@example.com", name="A") +
     line(type="person", email="A@Example.com", name="A again"),
     "Line 4: person a@example.com is on line 3 already."),
    (line(type="person", email="a@example.com", name="A", sub="same") +
     line(type="person", email="b@example.com", name="B", sub="same"),
     'Line 4: the subject "same" is on line 3 already.'),
]


@pytest.fixture
def held(runner):
    """What the directory holds before a bad import: the Taylor household,
    whose administrator is Held Here (subject "held-subject")."""
    run(runner, "import", stdin=jsonl([
        LINES[1], {"type": "person", "email": "held@example.com", "name": "Held Here",
                   "sub": "held-subject"},
        {"type": "membership", "customer": TAYLOR, "email": "held@example.com",
         "role": "administrator"}]))


@pytest.mark.parametrize(("bad", "message"), BAD, ids=[f"#{i}" for i in range(len(BAD))])
def test_a_bad_line_is_named_and_nothing_is_imported(app, runner, held, bad, message):
    before = snapshot(app)
    raw = bad.encode("latin-1") if "not UTF-8" in message else bad.encode("utf-8",
                                                                           "surrogatepass")
    result = runner.invoke(args=["import"], input=GOOD.encode() + raw)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, \
        result.output[:300]
    assert message in result.output, result.output[:300]
    assert "Traceback" not in result.output
    assert snapshot(app) == before


def test_an_export_of_an_empty_directory_is_empty(runner):
    assert run(runner, "export") == ""
