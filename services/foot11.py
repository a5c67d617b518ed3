"""Foot 11: football on demand, for administrators of the customer number
(entitlement ``foot11``, web and app)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Flask, render_template
from flask_babel import format_date

from claims.vocabulary import Entitlement
from idp.i18n import _l
from services.relying_party import WebServiceConfig, for_entitlement, identity_required
from services.web_rp import create_service_app

ENTITLEMENT = Entitlement.FOOT11
blueprint = Blueprint("foot11", __name__)

# Sample programme (clubs are names; competitions have their names in each language).
PRO_LEAGUE, CHAMPIONS_LEAGUE = _l("Jupiler Pro League"), _l("Champions League")
LIVE = (("Club Brugge", "Anderlecht", "2 - 1", "67'"),)
UPCOMING = (  # weekday (Monday 0), kick-off, home, away, competition
    (5, "20:45", "Standard", "Genk", PRO_LEAGUE),
    (6, "13:30", "Gent", "Antwerp", PRO_LEAGUE),
    (6, "18:30", "Union Saint-Gilloise", "Charleroi", PRO_LEAGUE),
    (2, "21:00", "Club Brugge", "Benfica", CHAMPIONS_LEAGUE),
)
REPLAYS = (_l("Anderlecht - Gent (1 - 1), highlights"),
           _l("Genk - Club Brugge (0 - 3), full match"),
           _l("Goal of the week: the ten best goals"))


def _next(weekday: int, today: date) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


@blueprint.get("/")
def home():
    identity_required()
    today = date.today()
    upcoming = [(f"{format_date(_next(weekday, today), 'EEEE')} {kick_off}", home, away,
                 str(competition)) for weekday, kick_off, home, away, competition in UPCOMING]
    return render_template("foot11/home.html", live=LIVE, upcoming=upcoming,
                           replays=[str(replay) for replay in REPLAYS])


def create_app(config: WebServiceConfig) -> Flask:
    """Foot 11 as a web client of the provider (``required_entitlement``: foot11)."""
    return create_service_app(for_entitlement(config, ENTITLEMENT), blueprint)
