"""The ``keyholder`` command group (Flask's click CLI) on the assembled
provider. Commands live in the modules that own them; this module builds the
group and the commands that need no instance (``demo`` makes its own,
``settings`` reads none, ``serve`` forks first)."""

from __future__ import annotations

import os
import shutil
import tempfile

import click
from flask.cli import FlaskGroup

from idp import cli_commands
from idp.infrastructure.metrics import MULTIPROCESS
from idp.infrastructure.serve import CannotListen, serve
from idp.settings import SettingsError, describe, load_settings
from keyholder.demo.command import demo_command
from keyholder.provider import create_app
from services.app.cli import app_group


def _create_app():
    try:
        return create_app()
    except SettingsError as error:
        raise click.ClickException("invalid settings:\n" + str(error)) from None


class KeyholderGroup(FlaskGroup):
    """Flask's group, except that listing and finding commands (``--help``)
    never builds the app: help reads no settings and warns of nothing. A
    command that needs the app builds it when it runs."""

    def list_commands(self, ctx):
        return click.Group.list_commands(self, ctx)

    def get_command(self, ctx, name):
        return click.Group.get_command(self, ctx, name)


cli = KeyholderGroup(
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


@cli.command("serve", with_appcontext=False)
@click.option("--host", help="Address to listen on (default: KEYHOLDER_HOST).")
@click.option("--port", type=int, help="Port (default: KEYHOLDER_PORT).")
@click.option("--workers", type=click.IntRange(1, 256),
              help="Worker processes (default: KEYHOLDER_WORKERS).")
@click.option("--threads", type=click.IntRange(1, 64),
              help="Threads per worker (default: KEYHOLDER_THREADS).")
def serve_command(host: str | None, port: int | None, workers: int | None,
                  threads: int | None) -> None:
    """Run the provider in production under granian.

    SIGTERM or SIGINT: stop after the requests in flight. SIGHUP: replace
    the workers one by one."""
    # prometheus_client's multiprocess mode: each worker counts in this folder
    # and a scrape adds them up (set before anything counts).
    own_folder = None
    if not os.environ.get(MULTIPROCESS):
        own_folder = os.environ[MULTIPROCESS] = tempfile.mkdtemp(prefix="keyholder-metrics-")
    try:
        _serve(host, port, workers, threads)
    finally:
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)


def _serve(host: str | None, port: int | None, workers: int | None,
           threads: int | None) -> None:
    try:
        settings = load_settings()
        create_app()  # check the settings and the key store before forking
    except SettingsError as error:
        raise click.ClickException("invalid settings:\n" + str(error)) from None
    try:
        # Each worker imports and calls the factory itself: no app, no
        # database connection crosses the fork.
        serve(f"{create_app.__module__}:{create_app.__qualname__}", settings, host, port,
              workers, threads)
    except CannotListen as error:
        raise click.ClickException(str(error)) from None


for command in cli_commands():
    cli.add_command(command)
cli.add_command(demo_command)
cli.add_command(app_group)  # the app (a native client): needs no instance
