"""Accounts people run themselves, at ``/account``: a forgotten or changed
password and e-mail verification (:mod:`password_views`), the second factor
(:mod:`second_factor_views`), the sessions and connected devices
(:mod:`security_views`). Single-use links are :mod:`links`; a new password,
whichever way it comes, is :mod:`passwords`."""

from __future__ import annotations

from flask import Blueprint, Flask

blueprint = Blueprint("account", __name__, url_prefix="/account")


def init_app(app: Flask) -> None:
    from idp.account import password_views, second_factor_views, security_views  # noqa: F401

    app.register_blueprint(blueprint)
