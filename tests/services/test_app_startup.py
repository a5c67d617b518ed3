"""``keyholder app`` is a client of the provider: its start-up loads the app's
modules and the ``claims`` toolkit, never the provider, the console or the
rest of the assembly (checked with ``python -X importtime``, as a person would)."""

from __future__ import annotations

import subprocess
import sys

PROVIDER_SIDE = ("idp", "admin_console", "keyholder.commands", "keyholder.provider",
                 "keyholder.demo", "sqlalchemy", "alembic", "granian")


def imported_modules(*argv: str) -> set[str]:
    code = (f"import sys; sys.argv = {['keyholder', *argv]!r}; "
            "from keyholder.cli import main; main()")
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[-1].strip() for line in lines[1:]}  # the first is the header


def test_the_app_starts_without_the_provider():
    modules = imported_modules("app", "--help")
    assert "services.app.cli" in modules and "claims.verifier" in modules
    loaded = sorted(m for m in modules if any(m == p or m.startswith(p + ".")
                                              for p in PROVIDER_SIDE))
    assert loaded == []


def test_the_other_commands_load_the_provider():
    """The control: the same measurement sees the provider when it is loaded."""
    modules = imported_modules("settings")
    assert {"idp", "admin_console", "keyholder.commands"} <= modules
