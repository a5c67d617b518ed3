"""OneDrive for Business: for administrators of business customer numbers,
on the web only (entitlement ``onedrive``; the policy never grants it to a
residential customer, nor to an app token)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from claims.vocabulary import Entitlement
from services.relying_party import WebServiceConfig, for_entitlement, identity_required
from services.web_rp import create_service_app

ENTITLEMENT = Entitlement.ONEDRIVE
QUOTA_TB = 1
blueprint = Blueprint("onedrive", __name__)

# Sample library.
LIBRARY = (
    ("Shared with the team", "Folder", "Philip Smith", "today"),
    ("Budget 2027.xlsx", "Workbook", "Philip Smith", "yesterday"),
    ("Customer list.xlsx", "Workbook", "Mary Jones", "3 days ago"),
    ("Brand guidelines.pdf", "PDF", "Thomas Taylor", "last month"),
    ("Staff handbook.docx", "Document", "Philip Smith", "last month"),
)


@blueprint.get("/")
def home():
    identity_required()
    return render_template("onedrive/home.html", library=LIBRARY, quota=QUOTA_TB)


def create_app(config: WebServiceConfig) -> Flask:
    """OneDrive for Business as a web client (``required_entitlement``: onedrive)."""
    return create_service_app(for_entitlement(config, ENTITLEMENT), blueprint)
