"""The provider as it runs: :func:`idp.create_app` with the admin console
mounted at ``/console`` (the console is a separate package so that the
provider never imports it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import admin_console
import idp


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The provider and its console; ``config`` as for :func:`idp.create_app`."""
    app = idp.create_app(config)
    admin_console.init_app(app)
    return app
