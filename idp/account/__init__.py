"""Accounts people run themselves, at ``/account``: a forgotten or changed
password (:mod:`password_views`), the account's home and e-mail
verification (:mod:`verification_views`), the second factor
(:mod:`second_factor_views`), the sessions and connected devices
(:mod:`security_views`). Single-use links are :mod:`links`; a new password,
whichever way it comes, is :mod:`passwords`."""

from __future__ import annotations

from flask import Blueprint, Flask

blueprint = Blueprint("account", __name__, url_prefix="/account")


def init_app(app: Flask) -> None:
    from idp.account import (  # noqa: F401
        password_views,
        second_factor_views,
        security_views,
        verification_views,
    )

    app.register_blueprint(blueprint)
