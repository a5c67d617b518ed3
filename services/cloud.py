"""The Cloud: online storage for the customer number, for its administrators
(entitlement ``cloud``, web and app)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from claims.vocabulary import CustomerType, Entitlement
from services.relying_party import WebServiceConfig, for_entitlement, identity_required
from services.web_rp import create_service_app

ENTITLEMENT = Entitlement.CLOUD
QUOTA_GB = {CustomerType.BUSINESS: 500, CustomerType.RESIDENTIAL: 100}
blueprint = Blueprint("cloud", __name__)

# Sample content: what a customer's storage plausibly holds.
FOLDERS = {
    CustomerType.BUSINESS: (
        ("Invoices 2026", 148, 1.2), ("Contracts", 37, 0.4), ("Team photos", 612, 9.8),
        ("Presentations", 54, 3.1), ("Backups of the shop laptop", 3, 41.5)),
    CustomerType.RESIDENTIAL: (
        ("Holiday photos", 1204, 18.6), ("School work", 88, 0.9), ("Scanned papers", 65, 0.3),
        ("Music", 930, 6.7)),
}
RECENT = {
    CustomerType.BUSINESS: (("Quote-2026-118.pdf", "Invoices 2026", "2 days ago"),
                            ("Lease renewal.docx", "Contracts", "last week")),
    CustomerType.RESIDENTIAL: (("Beach day.jpg", "Holiday photos", "yesterday"),
                               ("Insurance letter.pdf", "Scanned papers", "3 weeks ago")),
}


@blueprint.get("/")
def home():
    identity = identity_required()
    kind = identity.customer_type or CustomerType.RESIDENTIAL
    folders = FOLDERS[kind]
    used = round(sum(size for _, _, size in folders), 1)
    return render_template("cloud/home.html", folders=folders, recent=RECENT[kind], used=used,
                           quota=QUOTA_GB[kind])


def create_app(config: WebServiceConfig) -> Flask:
    """The Cloud as a web client of the provider (``required_entitlement``: cloud)."""
    return create_service_app(for_entitlement(config, ENTITLEMENT), blueprint)
