"""Foot 11: football on demand, for administrators of the customer number
(entitlement ``foot11``, web and app)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from claims.vocabulary import Entitlement
from services.relying_party import WebServiceConfig, for_entitlement, identity_required
from services.web_rp import create_service_app

ENTITLEMENT = Entitlement.FOOT11
blueprint = Blueprint("foot11", __name__)

# Sample programme.
LIVE = (("Club Brugge", "Anderlecht", "2 - 1", "67'"),)
UPCOMING = (
    ("Saturday 20:45", "Standard", "Genk", "Jupiler Pro League"),
    ("Sunday 13:30", "Gent", "Antwerp", "Jupiler Pro League"),
    ("Sunday 18:30", "Union Saint-Gilloise", "Charleroi", "Jupiler Pro League"),
    ("Wednesday 21:00", "Club Brugge", "Benfica", "Champions League"),
)
REPLAYS = ("Anderlecht - Gent (1 - 1), highlights", "Genk - Club Brugge (0 - 3), full match",
           "Goal of the week: the ten best goals")


@blueprint.get("/")
def home():
    identity_required()
    return render_template("foot11/home.html", live=LIVE, upcoming=UPCOMING, replays=REPLAYS)


def create_app(config: WebServiceConfig) -> Flask:
    """Foot 11 as a web client of the provider (``required_entitlement``: foot11)."""
    return create_service_app(for_entitlement(config, ENTITLEMENT), blueprint)
