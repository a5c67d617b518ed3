"""The admin console (a blueprint mounted in the provider at ``/console``):
my role, become administrator, the members (invite, make administrator,
remove, exclude), self-promotion, the administrators' second factor,
hand-over, the audit trail; the page an invitation's link opens
(``/console/invitation``, for people without a session too), and the one
an administrator's "I did not agree — undo this" link opens
(``/console/undo-promotion``); e-mails go
through the provider's outbox.

:func:`init_app` mounts it on a provider app (the assembly, :mod:`keyholder`,
does), with the operator's ``keyholder member set-role``."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from admin_console import (  # noqa: F401 (they register the routes)
    administrators_views,
    invitation_views,
    undo_views,
    views,
)
from admin_console.blueprint import blueprint
from admin_console.cli import set_role_command
from idp import i18n
from idp.directory.cli import member_group

# The operator's `keyholder member set-role` (the command line lists it
# without building an app).
member_group.add_command(set_role_command)


def init_app(app: Flask) -> None:
    i18n.add_catalogues(app, Path(__file__).parent)
    app.register_blueprint(blueprint)
    app.register_blueprint(invitation_views.blueprint)
    app.register_blueprint(undo_views.blueprint)
