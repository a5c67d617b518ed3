"""The ``keyholder`` command (Flask's click CLI). Commands live in the modules
that own them; this module only builds the group and the commands that need
no instance (``demo`` makes its own, ``settings`` reads none)."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from idp import create_app
from idp.demo import demo_command
from idp.serve import serve_command
from idp.settings import SettingsError, describe
from services.app.cli import app_group


def _create_app():
    try:
        return create_app()
    except SettingsError as error:
        raise click.ClickException("invalid settings:\n" + str(error)) from None


cli = FlaskGroup(
    name="keyholder",
    help="Keyholder, an OpenID Connect provider for shared customer accounts.\n\n"
         "Settings come from KEYHOLDER_* environment variables "
         "(`keyholder settings` lists them).",
    create_app=lambda *_: _create_app(),
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
# Flask's --app/--env-file/--debug would load another application or
# environment than the settings say: the settings are the one source.
cli.params = [p for p in cli.params if p.name not in {"app", "env_file", "debug"}]
cli = click.version_option(package_name="keyholder", prog_name="keyholder")(cli)


@cli.command("settings", with_appcontext=False)
def settings_command() -> None:
    """List every KEYHOLDER_* setting with its default (Markdown)."""
    click.echo(describe(), nl=False)


cli.add_command(demo_command)
cli.add_command(serve_command)
cli.add_command(app_group)  # the app (a native client): needs no instance


def main() -> None:
    cli.main(prog_name="keyholder")
