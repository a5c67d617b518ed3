"""``keyholder keys list|rotate|retire`` through Flask's CLI runner: output,
exit codes, and refusals as one ``Error:`` line."""

from __future__ import annotations

import re

import pytest

from idp.keys import KeyState, key_store
from idp.keys.cli import COLUMNS, keys_group

PASSPHRASE = "test-keys-passphrase-that-is-long-enough-0123"


@pytest.fixture
def build(make_app, tmp_path):
    """An app on a SQLite file of its own (the key commands need no
    database) with ``keys`` registered, as create_app will register it."""
    def build_app(**overrides):
        app = make_app(f"sqlite:///{tmp_path / 'keyholder.db'}", **overrides)
        if "keys" not in app.cli.commands:
            app.cli.add_command(keys_group)
        return app
    return build_app


@pytest.fixture
def app(build):
    made = build()
    key_store(made).ensure()  # what `keyholder init` will do
    return made


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def keys(app, state: KeyState, alg: str) -> list[str]:
    return [k.kid for k in key_store(app).list() if k.state is state and k.alg == alg]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_list_shows_a_table(app, runner):
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert re.split(" {2,}", header) == list(COLUMNS)
    assert len(rows) == 4
    for info in key_store(app).list():
        (row,) = [r for r in rows if r.startswith(info.kid)]
        cells = row.split()
        assert cells[1:3] == [info.alg, info.state.value]
        assert f"{info.created_at:%Y-%m-%d %H:%M:%S}Z" in row
        assert cells[-1] == "-"  # published until: only retired keys have one


def test_list_before_init(build):
    result = build().test_cli_runner().invoke(args=["keys", "list"])
    assert result.exit_code == 0
    assert result.output == "No signing keys yet: `keyholder init` creates them.\n"


def test_rotate_one_algorithm(app, runner):
    (active,) = keys(app, KeyState.ACTIVE, "ES256")
    (waiting,) = keys(app, KeyState.NEXT, "ES256")
    rs256 = keys(app, KeyState.ACTIVE, "RS256")
    result = runner.invoke(args=["keys", "rotate", "--alg", "ES256"])
    assert result.exit_code == 0, result.output
    (new,) = keys(app, KeyState.NEXT, "ES256")
    lines = result.output.splitlines()
    assert lines[:2] == [f"ES256 key {waiting} is now active", f"ES256 key {new} is now next"]
    assert lines[2].startswith(f"ES256 key {active} is now retired, published until ")
    assert len(lines) == 3
    assert keys(app, KeyState.ACTIVE, "RS256") == rs256
    listed = runner.invoke(args=["keys", "list"]).output
    (row,) = [r for r in listed.splitlines() if r.startswith(active)]
    assert row.split()[2] == "retired" and row.endswith("Z")


def test_rotate_every_algorithm(app, runner):
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 6
    assert len(key_store(app).list()) == 6


def test_rotate_refuses_an_unknown_algorithm(runner):
    result = runner.invoke(args=["keys", "rotate", "--alg", "HS256"])
    assert result.exit_code == 2
    assert "'HS256' is not one of 'RS256', 'ES256'" in result.output


def test_retire_a_key(app, runner):
    (active,) = keys(app, KeyState.ACTIVE, "RS256")
    (waiting,) = keys(app, KeyState.NEXT, "RS256")
    result = runner.invoke(args=["keys", "retire", active])
    assert result.exit_code == 0, result.output
    assert f"RS256 key {waiting} is now active" in result.output.splitlines()
    assert keys(app, KeyState.RETIRED, "RS256") == [active]


@pytest.mark.parametrize("which", ["unknown", "retired"])
def test_retire_refusals_are_one_error_line(app, runner, which):
    if which == "unknown":
        # Thumbprints may begin with "-": such a kid is not taken for an option.
        kid, message = "-no-such-kid", "Error: no signing key with kid '-no-such-kid'"
    else:
        (kid,) = keys(app, KeyState.ACTIVE, "ES256")
        key_store(app).retire(kid)
        message = f"Error: signing key {kid} is already retired (published until "
    before = key_store(app).list()
    result = runner.invoke(args=["keys", "retire", kid])
    assert result.exit_code == 1
    (line,) = error_lines(result.output)
    assert line.startswith(message)
    assert result.output == line + "\n"
    assert key_store(app).list() == before


def test_a_wrong_passphrase_is_one_error_line(app, build):
    other = build(KEYS_PASSPHRASE="another-passphrase-that-is-long-enough-0123")
    for args in (["keys", "list"], ["keys", "rotate"]):
        result = other.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1
        (line,) = error_lines(result.output)
        assert line.endswith(": is KEYHOLDER_KEYS_PASSPHRASE right?")
        assert "another-passphrase" not in result.output
    assert len(key_store(app).list()) == 4
