"""The first ten minutes (issue 15): help reads no settings and warns of
nothing, whatever the environment; a command that runs says once, in one
line, which development defaults are unsafe."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.serve_command import KEYHOLDER, ROOT

# A wrong setting would stop any command that reads the settings.
BROKEN = {"KEYHOLDER_PORT": "0"}


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    return subprocess.run([str(KEYHOLDER), *args], env={**clean, **(env or {})}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [["--help"], ["client", "--help"], ["keys", "rotate", "--help"],
                                  ["member", "set-role", "--help"], ["ssf", "--help"]])
def test_help_reads_no_settings(args):
    result = run(*args, env=BROKEN)
    assert result.returncode == 0, result.stderr
    assert "Usage: keyholder" in result.stdout
    assert "NOT safe" not in result.stdout + result.stderr
    assert "invalid settings" not in result.stdout + result.stderr


def test_the_main_help_lists_every_command():
    listed = run("--help").stdout
    for command in ("init", "serve", "worker", "client", "keys", "person", "customer",
                    "member", "ssf", "settings", "demo", "purge"):
        assert f"  {command} " in listed, command
    assert "set-role" in run("member", "--help").stdout


def test_a_command_warns_once_in_one_line(tmp_path):
    env = {"KEYHOLDER_INSTANCE_PATH": str(tmp_path)}
    result = run("client", "list", env=env)
    warnings = [line for line in result.stderr.splitlines() if "NOT safe" in line]
    assert len(warnings) == 1, result.stderr
    assert "KEYHOLDER_SECRET_KEY" in warnings[0] and "KEYHOLDER_KEYS_PASSPHRASE" in warnings[0]
