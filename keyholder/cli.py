"""The ``keyholder`` entry point. ``keyholder app ...`` is the native app, a
client of the provider: it loads the app's modules only, never the provider
(it starts in a fraction of the time). Everything else is the command group
of :mod:`keyholder.commands`."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["app"]:
        from services.app.cli import app_group  # lazily: only the app's modules

        app_group.main(args=sys.argv[2:], prog_name="keyholder app")
        return
    from keyholder.commands import cli  # lazily: the provider and all its commands

    cli.main(prog_name="keyholder")
