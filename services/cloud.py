"""The Cloud: online storage for the customer number, for its administrators
(entitlement ``cloud``, web and app)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, render_template
from flask_babel import format_decimal, format_timedelta
from flask_babel import gettext as _

from claims.vocabulary import CustomerType, Entitlement
from idp.i18n import _l
from services.relying_party import WebServiceConfig, for_entitlement, identity_required
from services.web_rp import create_service_app

ENTITLEMENT = Entitlement.CLOUD
QUOTA_GB = {CustomerType.BUSINESS: 500, CustomerType.RESIDENTIAL: 100}
blueprint = Blueprint("cloud", __name__)

# Sample content: what a customer's storage plausibly holds (name, files, GB).
FOLDERS = {
    CustomerType.BUSINESS: (
        (_l("Invoices 2026"), 148, 1.2), (_l("Contracts"), 37, 0.4),
        (_l("Team photos"), 612, 9.8), (_l("Presentations"), 54, 3.1),
        (_l("Backups of the shop laptop"), 3, 41.5)),
    CustomerType.RESIDENTIAL: (
        (_l("Holiday photos"), 1204, 18.6), (_l("School work"), 88, 0.9),
        (_l("Scanned papers"), 65, 0.3), (_l("Music"), 930, 6.7)),
}
RECENT = {  # file, folder, how long ago
    CustomerType.BUSINESS: ((_l("Quote-2026-118.pdf"), _l("Invoices 2026"), timedelta(days=2)),
                            (_l("Lease renewal.docx"), _l("Contracts"), timedelta(days=7))),
    CustomerType.RESIDENTIAL: ((_l("Beach day.jpg"), _l("Holiday photos"), timedelta(days=1)),
                               (_l("Insurance letter.pdf"), _l("Scanned papers"),
                                timedelta(days=21))),
}


def gigabytes(size: float) -> str:
    return _("%(size)s GB", size=format_decimal(size))


@blueprint.get("/")
def home():
    identity = identity_required()
    kind = identity.customer_type or CustomerType.RESIDENTIAL
    folders = [(str(name), files, gigabytes(size)) for name, files, size in FOLDERS[kind]]
    used = round(sum(size for _, _, size in FOLDERS[kind]), 1)
    recent = [(str(file), str(folder), format_timedelta(-ago, add_direction=True))
              for file, folder, ago in RECENT[kind]]
    return render_template("cloud/home.html", folders=folders, recent=recent,
                           used=gigabytes(used), quota=gigabytes(QUOTA_GB[kind]))


def create_app(config: WebServiceConfig) -> Flask:
    """The Cloud as a web client of the provider (``required_entitlement``: cloud)."""
    return create_service_app(for_entitlement(config, ENTITLEMENT), blueprint)
