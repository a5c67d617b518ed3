"""``keyholder customer|person|member``: results, and bad input that exits
non-zero with one line and changes nothing (on SQLite and PostgreSQL)."""

import sqlite3

import pytest

from claims.vocabulary import Role
from idp.directory.cli_support import unit_of_work
from idp.directory.services import Directory
from idp.infrastructure import database, migrate
from idp.infrastructure.passwords import PASSWORDS
from tests.snapshots import snapshot


@pytest.fixture
def smith(runner):
    result = runner.invoke(args=["customer", "add", "123 456 789", "--name", "Smith ltd",
                                 "--type", "business"])
    assert result.exit_code == 0, result.output
    return "123456789"


def lookup(app, email):
    with database.new_session(app) as session:
        directory = Directory(session)
        person = directory.person(email)
        return person, [(m.customer.number, m.role, m.mobile)
                        for m in directory.memberships_of(person)]


def test_customer_add_and_show(runner, smith):
    result = runner.invoke(args=["customer", "show", "123.456.789"])
    assert result.exit_code == 0
    assert "123456789  Smith ltd  (business, self-promotion open)" in result.output
    assert "no members" in result.output


def test_person_add_with_password_from_stdin(app, runner, smith):
    result = runner.invoke(
        args=["person", "add", "Mary.Jones@Smith-ltd.example", "--name", "Mary Jones",
              "--customer", smith, "--role", "user", "--mobile", "+32 470 00 00 02",
              "--password-stdin"],
        input="mary's long password\n")
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    person, memberships = lookup(app, "mary.jones@smith-ltd.example")
    assert memberships == [(smith, Role.USER, "+32470000002")]
    assert not person.email_verified  # until she follows the link e-mailed to her
    assert "A verification link is on its way." in result.output
    with app.app_context():
        assert app.extensions[PASSWORDS].verify(person.password_hash, "mary's long password").ok
    shown = runner.invoke(args=["customer", "show", smith]).output
    assert "user           Mary Jones  <mary.jones@smith-ltd.example>  +32470000002" in shown


def test_person_add_generates_a_password_printed_once(app, runner, smith):
    result = runner.invoke(args=["person", "add", "philip@smith.example", "--name",
                                 "Philip Smith", "--customer", smith, "--role", "administrator"])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Password (shown once): ")]
    password = line.split(": ", 1)[1]
    assert len(password) >= 16
    person, memberships = lookup(app, "philip@smith.example")
    assert memberships == [(smith, Role.ADMINISTRATOR, None)]
    with app.app_context():
        assert app.extensions[PASSWORDS].verify(person.password_hash, password).ok
    assert password not in person.password_hash


def test_person_without_customer(app, runner):
    result = runner.invoke(args=["person", "add", "solo@example.com", "--name", "Solo",
                                 "--password-stdin"], input="a fine password\n")
    assert result.exit_code == 0, result.output
    assert lookup(app, "solo@example.com")[1] == []


def test_member_add_joins_another_customer(app, runner, smith):
    runner.invoke(args=["customer", "add", "987654321", "--name", "Taylor household",
                        "--type", "residential"])
    runner.invoke(args=["person", "add", "thomas@example.com", "--name", "Thomas Taylor",
                        "--customer", smith, "--mobile", "+32470000003", "--password-stdin"],
                  input="thomas password\n")
    result = runner.invoke(args=["member", "add", "THOMAS@example.com", "--customer",
                                 "987 654 321", "--role", "administrator"])
    assert result.exit_code == 0, result.output
    assert "Thomas Taylor is now administrator of 987654321." in result.output
    assert lookup(app, "thomas@example.com")[1] == [
        (smith, Role.USER, "+32470000003"), ("987654321", Role.ADMINISTRATOR, None)]


@pytest.fixture
def populated(runner, smith):
    result = runner.invoke(args=["person", "add", "mary@example.com", "--name", "Mary",
                                 "--customer", smith, "--password-stdin"],
                           input="mary password\n")
    assert result.exit_code == 0, result.output
    return smith


BAD_INPUT = [
    (["customer", "add", "123456789", "--name", "Again", "--type", "business"],
     None, "Customer number 123456789 already exists."),
    (["customer", "add", "12345678", "--name", "Short", "--type", "business"],
     None, "exactly 9 digits; this has 8"),
    (["customer", "add", "１２３４５６７８８", "--name", "Wide", "--type", "business"],
     None, "digits 0 to 9"),
    (["customer", "add", "111222333", "--name", "  ", "--type", "business"],
     None, "Please give a name."),
    (["customer", "add", "111222333", "--name", "X", "--type", "company"],
     None, "Invalid value for '--type'"),
    (["customer", "show", "999999999"], None, "There is no customer with number 999999999."),
    (["person", "add", "MARY@example.com", "--name", "Mary 2", "--customer", "123456789",
      "--password-stdin"], "another password\n",
     "A person with this e-mail address already exists."),
    (["person", "add", "new@example.com", "--name", "New", "--customer", "999999999",
      "--password-stdin"], "a fine password\n", "There is no customer with number 999999999."),
    (["person", "add", "new@example.com", "--name", "New", "--customer", "12345",
      "--password-stdin"], "a fine password\n", "exactly 9 digits; this has 5"),
    (["person", "add", "new@example.com", "--name", "New", "--customer", "123456789",
      "--mobile", "0470 12 34 56", "--password-stdin"], "a fine password\n",
     "written with + and the country code"),
    (["person", "add", "not-an-address", "--name", "New", "--password-stdin"],
     "a fine password\n", "This is not an e-mail address"),
    (["person", "add", "new@example.com", "--name", "New", "--password-stdin"],
     "short\n", "A password has at least 8 characters."),
    (["person", "add", "new@example.com", "--name", "New", "--role", "administrator"],
     None, "--role and --mobile need --customer."),
    (["member", "add", "mary@example.com", "--customer", "123456789"],
     None, "This person is already a member of customer 123456789."),
    (["member", "add", "nobody@example.com", "--customer", "123456789"],
     None, "There is no person with this e-mail address."),
    (["member", "add", "mary@example.com", "--customer", "123456789", "--role", "owner"],
     None, "Invalid value for '--role'"),
]


@pytest.mark.parametrize(("args", "stdin", "message"), BAD_INPUT,
                         ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _, _) in enumerate(BAD_INPUT)])
def test_bad_input_exits_non_zero_with_one_line_and_changes_nothing(
        app, runner, populated, args, stdin, message):
    before = snapshot(app)
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    assert "Traceback" not in result.output
    assert snapshot(app) == before


def test_a_failure_after_the_first_write_rolls_everything_back(app, runner, populated):
    # The person is added, then the membership fails: nothing of it may remain.
    before = snapshot(app)
    result = runner.invoke(args=["person", "add", "late@example.com", "--name", "Late",
                                 "--customer", "123456789", "--mobile", "+0", "--password-stdin"],
                           input="a fine password\n")
    assert result.exit_code == 1
    assert snapshot(app) == before


@pytest.fixture
def household(runner, populated):
    """The Taylor household: Thomas its administrator (added with ``person add``),
    Emma a user; Mary (of Smith ltd) exists."""
    for args, stdin in (
            (["customer", "add", "987654321", "--name", "Taylor household", "--type",
              "residential"], None),
            (["person", "add", "thomas@taylor.example", "--name", "Thomas Taylor", "--customer",
              "987654321", "--role", "administrator", "--password-stdin"], "thomas password\n"),
            (["person", "add", "emma@taylor.example", "--name", "Emma Taylor", "--customer",
              "987654321", "--password-stdin"], "emma's password\n")):
        result = runner.invoke(args=args, input=stdin)
        assert result.exit_code == 0, result.output
    return "987654321"


SECOND_ADMINISTRATOR = [
    (["person", "add", "anna@taylor.example", "--name", "Anna Taylor", "--customer",
      "987654321", "--role", "administrator", "--password-stdin"], "anna's password\n"),
    (["member", "add", "mary@example.com", "--customer", "987 654 321", "--role",
      "administrator"], None),
    (["member", "set-role", "emma@taylor.example", "--customer", "987654321", "--role",
      "administrator"], None),
]


@pytest.mark.parametrize(("args", "stdin"), SECOND_ADMINISTRATOR,
                         ids=[" ".join(a[:2]) for a, _ in SECOND_ADMINISTRATOR])
def test_a_household_gets_no_second_administrator_from_the_command_line(
        app, runner, household, args, stdin):
    before = snapshot(app)
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: Customer 987654321 is residential and has an administrator (Thomas Taylor); "
        "a residential customer has one at most. Set that role to user first."]
    assert snapshot(app) == before


def test_a_business_gets_as_many_administrators_as_it_likes(app, runner, populated):
    for email in ("philip@example.com", "anna@example.com"):
        result = runner.invoke(args=["person", "add", email, "--name", "Admin", "--customer",
                                     populated, "--role", "administrator", "--password-stdin"],
                               input="a fine password\n")
        assert result.exit_code == 0, result.output
        assert lookup(app, email)[1] == [(populated, Role.ADMINISTRATOR, None)]


def test_a_household_whose_administrator_stepped_down_takes_a_new_one(app, runner, household):
    down = runner.invoke(args=["member", "set-role", "thomas@taylor.example", "--customer",
                               household, "--role", "user"])
    assert down.exit_code == 0, down.output
    up = runner.invoke(args=["member", "add", "mary@example.com", "--customer", household,
                             "--role", "administrator"])
    assert up.exit_code == 0, up.output
    assert lookup(app, "mary@example.com")[1] == [
        ("123456789", Role.USER, None), (household, Role.ADMINISTRATOR, None)]


def test_a_command_holds_the_sqlite_writers_lock_from_its_start(make_app, tmp_path):
    # The customer's lock of a promotion, on SQLite: a second writer cannot
    # begin until the command is done (no read-then-write race, no "locked").
    path = tmp_path / "k.db"
    app = make_app(f"sqlite:///{path}")
    migrate.upgrade(database.engine(app))
    with app.app_context(), unit_of_work():
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
