"""The portal's Flask app: a web service of :mod:`services.web_rp` with the
portal's pages and its own data store."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g
from sqlalchemy.orm import sessionmaker

from services.operator_data import open_store
from services.portal import views
from services.portal.data_store import DATABASE, ENGINE
from services.portal.words import FILTERS
from services.relying_party import WebServiceConfig
from services.web_rp import create_service_app


@dataclass(frozen=True, kw_only=True)
class PortalConfig(WebServiceConfig):
    database_path: str  # the operator's SQLite file, created if missing


def create_app(config: PortalConfig) -> Flask:
    """The portal as a web client of the provider (no ``required_entitlement``:
    each page asks for its own)."""
    if config.required_entitlement is not None:
        raise ValueError("the portal's pages each require their own entitlement")
    app = create_service_app(config, views.blueprint)
    engine = open_store(config.database_path)
    app.extensions[ENGINE] = engine
    app.extensions[DATABASE] = sessionmaker(engine, expire_on_commit=False)
    app.jinja_env.filters.update(FILTERS)  # the operator's records in the page's language

    @app.teardown_appcontext
    def close_session(_error) -> None:
        session = g.pop("portal_session", None)
        if session is not None:
            session.close()

    return app


__all__ = ["PortalConfig", "create_app"]
