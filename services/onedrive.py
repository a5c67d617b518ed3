"""OneDrive for Business: for administrators of business customer numbers,
on the web only (entitlement ``onedrive``; the policy never grants it to a
residential customer, nor to an app token)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, render_template
from flask_babel import format_timedelta
from flask_babel import gettext as _

from claims.vocabulary import Entitlement
from idp.i18n import _l
from services.relying_party import WebServiceConfig, for_entitlement, identity_required
from services.web_rp import create_service_app

ENTITLEMENT = Entitlement.ONEDRIVE
QUOTA_TB = 1
blueprint = Blueprint("onedrive", __name__)

# Sample library: name, kind, modified by, how long ago.
LIBRARY = (
    (_l("Shared with the team"), _l("Folder"), "Philip Smith", timedelta(0)),
    (_l("Budget 2027.xlsx"), _l("Workbook"), "Philip Smith", timedelta(days=1)),
    (_l("Customer list.xlsx"), _l("Workbook"), "Mary Jones", timedelta(days=3)),
    (_l("Brand guidelines.pdf"), _l("PDF"), "Thomas Taylor", timedelta(days=30)),
    (_l("Staff handbook.docx"), _l("Document"), "Philip Smith", timedelta(days=31)),
)


def _ago(ago: timedelta) -> str:
    if ago < timedelta(days=1):
        return _("today")
    if ago < timedelta(days=2):
        return _("yesterday")
    return format_timedelta(-ago, add_direction=True)


@blueprint.get("/")
def home():
    identity_required()
    library = [(str(name), str(kind), who, _ago(ago)) for name, kind, who, ago in LIBRARY]
    return render_template("onedrive/home.html", library=library, quota=QUOTA_TB)


def create_app(config: WebServiceConfig) -> Flask:
    """OneDrive for Business as a web client (``required_entitlement``: onedrive)."""
    return create_service_app(for_entitlement(config, ENTITLEMENT), blueprint)
