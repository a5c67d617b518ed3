"""``/health``: is this node able to serve? For load balancers and the demo."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.infrastructure import database

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    """200 when the database answers, 503 (fast, no detail) when it does not."""
    try:
        database.session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
    else:
        response = jsonify(status="ok", database="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
