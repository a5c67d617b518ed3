"""What the TV box's screens share: the language they speak, the shared
header's context, the QR code of the verification link, and the user code
letter by letter.

The box's language, first match wins: the switcher's choice on this box
(its cookie), the ``locale`` claim of the person it shows (from the ID
token), ``Accept-Language``, English."""

from __future__ import annotations

import segno
from flask import request, session
from flask_babel import gettext as _
from markupsafe import Markup

from idp import i18n
from services import language, masthead

QR_LABEL = "qr-label"  # the id of the sentence that describes the QR code


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as inline SVG: no script and no style attribute
    (the screen's Content-Security-Policy holds), described by the sentence
    with the id ``qr-label``."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=6, dark="#000", light="#fff", svgclass="qr-code", lineclass=None,
        title=_("QR code of the sign-in link"))
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-labelledby="{QR_LABEL}" ', 1))  # noqa: S704 - segno's own SVG; the URI is encoded in its path, not in markup


def spelled(user_code: str) -> str:
    """``WDJB-MJHT`` -> ``W D J B - M J H T``: to read out or type one by one."""
    return " - ".join(" ".join(group) for group in user_code.split("-"))


def choose(viewer_locale) -> str | None:
    return (i18n.language_of(session.get(language.CHOSEN)) or i18n.language_of(viewer_locale())
            or i18n.from_header(request.headers.get("Accept-Language")))


def context(config, viewer) -> dict:
    """The header's context for a screen showing ``viewer`` (None: nobody)."""
    base_url = config.base_url.rstrip("/")
    return {**masthead.context(config), "service": masthead.Shown(config),
            "person_name": viewer.name if viewer else None,
            "person_role": viewer.identity.role if viewer else None,
            "sign_out_url": f"{base_url}/logout" if viewer else None,
            "base_url": base_url, "issuer": config.issuer.rstrip("/")}


__all__ = ["QR_LABEL", "choose", "context", "qr_svg", "spelled"]
