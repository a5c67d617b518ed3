"""Keyholder, the OpenID Connect provider. ``create_app`` builds one instance.

The provider knows nothing of the console, the partner services or the demo:
the assembly (:mod:`keyholder`) mounts the console on it. Its parts, by what
they do: ``pages`` (what a person sees: authorization, consent, the device
page), ``protocol`` (the authorization server, grants, endpoints, tokens),
``infrastructure`` (database, edge, settings' helpers, serving), and the
domain packages ``directory``, ``clients``, ``keys``, ``login`` and
``outbox``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from idp import account, i18n, security_events
from idp.clients import registry
from idp.clients.cli import client_group
from idp.directory import cli as directory_cli
from idp.directory.services import audit_listeners
from idp.infrastructure import (
    compiled_templates,
    database,
    edge,
    health,
    housekeeping,
    logs,
    metrics,
    migrate,
    security_headers,
    unavailable,
)
from idp.infrastructure.passwords import PASSWORDS, Passwords
from idp.keys.cli import keys_group
from idp.login import views as login_views
from idp.outbox.smtp import InvalidSmtpUrl, SmtpEndpoint
from idp.outbox.worker import worker_command
from idp.pages import authorize, device, errors, language, masthead
from idp.protocol import claims_release, discovery, lane, server
from idp.protocol.endpoints import routes
from idp.protocol.tokens import validation
from idp.settings import BY_NAME, SettingsError, load_settings, warn_about_insecure_defaults


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the provider application.

    ``config`` may hold settings by name (``{"DATABASE_URL": ...}``, see
    :mod:`idp.settings`), which win over ``KEYHOLDER_*`` variables, and any
    other Flask configuration (``TESTING``...). Raises
    :class:`idp.settings.SettingsError` when a setting is wrong."""
    extra = dict(config or {})
    overrides = {name: extra.pop(name) for name in list(extra) if name in BY_NAME}
    settings = load_settings(overrides=overrides)
    _check_smtp_url(settings.SMTP_URL)

    app = Flask(__name__, instance_path=settings.INSTANCE_PATH)
    secure = urlsplit(settings.ISSUER).scheme == "https"
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY, KEYHOLDER=settings, MAX_CONTENT_LENGTH=64 * 1024,
        # Flask's signed cookie carries only CSRF state and the fresh-login marker.
        SESSION_COOKIE_NAME="__Host-keyholder_state" if secure else "keyholder_state",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure, WTF_CSRF_TIME_LIMIT=3600)
    app.config.update(extra)
    logs.configure(settings.LOG_LEVEL, settings.LOG_FORMAT)
    warn_about_insecure_defaults(settings)
    os.makedirs(app.instance_path, exist_ok=True)

    lane.install(app)  # inside the edge, which wraps the app next
    edge.init_app(app)
    database.init_app(app, settings.DATABASE_URL, database.Tuning.from_settings(settings))
    compiled_templates.init_app(app)
    i18n.init_app(app, packages=[Path(__file__).parent], choose=language.choose,
                  time_zone=settings.TIME_ZONE)
    language.init_app(app)
    masthead.init_app(app)
    errors.init_app(app)
    app.jinja_env.globals.update(operator_name=settings.OPERATOR_NAME,
                                 operator_logo_url=settings.OPERATOR_LOGO_URL,
                                 portal_url=settings.PORTAL_URL)
    app.extensions[PASSWORDS] = Passwords(settings.PASSWORD_TIME_COST,
                                          settings.PASSWORD_MEMORY_COST,
                                          settings.PASSWORD_PARALLELISM)
    registry.init_app(app)
    validation.init_app(app)
    security_events.init_app(app)
    account.init_app(app)
    claims_release.load_plugins(app)
    server.create_server(app)
    discovery.init_app(app)
    security_headers.init_app(app)
    unavailable.init_app(app)
    for blueprint in (health.blueprint, discovery.blueprint, authorize.blueprint,
                      routes.blueprint, login_views.blueprint, device.blueprint):
        app.register_blueprint(blueprint)
    for command in cli_commands():
        app.cli.add_command(command)
    metrics.init_app(app)  # last but one: it wraps everything else
    app.wsgi_app = logs.RequestIds(app.wsgi_app)  # outermost: every log line has the id
    if logs.audited not in audit_listeners:
        audit_listeners.append(logs.audited)
    return app


def cli_commands() -> tuple:
    """The provider's operator commands (``keyholder init``, ``client``,
    ``keys``...): the command line lists them without building an app."""
    from idp.security_events.cli import ssf_group

    return (migrate.init_command, housekeeping.purge_command, client_group, keys_group,
            *directory_cli.commands, worker_command, ssf_group)


def _check_smtp_url(url: str) -> None:
    """At start-up, not at the first e-mail: a wrong KEYHOLDER_SMTP_URL stops the start."""
    try:
        SmtpEndpoint.parse(url)
    except InvalidSmtpUrl as error:
        raise SettingsError(str(error)) from None
