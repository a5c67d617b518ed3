"""The operator's self-care portal: subscriptions, bills, usage, options and
Bizz Club points of the customer number the token speaks for, shown and
changed as the person's entitlements allow (DESIGN §1): administrators see
and manage everything, users the usage and free options of their own mobile.

It has its own data store (:mod:`services.operator_data`, a SQLite file) and
knows people only through their tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g
from sqlalchemy.orm import Session, sessionmaker

from services.operator_data import open_store
from services.operator_demo import seed_demo_data
from services.web_rp import WebServiceConfig, create_service_app

DATABASE = "portal.sessionmaker"
ENGINE = "portal.engine"


@dataclass(frozen=True, kw_only=True)
class PortalConfig(WebServiceConfig):
    database_path: str  # the operator's SQLite file, created if missing
    seed_demo: bool = False  # add the demo customers' records (operator_demo) at start


def create_app(config: PortalConfig) -> Flask:
    """The portal as a web client of the provider (no ``required_entitlement``:
    each page asks for its own)."""
    from services.portal import views

    if config.required_entitlement is not None:
        raise ValueError("the portal's pages each require their own entitlement")
    app = create_service_app(config, views.blueprint)
    engine = open_store(config.database_path)
    if config.seed_demo:
        with Session(engine) as session:
            seed_demo_data(session)
            session.commit()
    app.extensions[ENGINE] = engine
    app.extensions[DATABASE] = sessionmaker(engine, expire_on_commit=False)
    app.add_template_filter(euros)

    @app.teardown_appcontext
    def close_session(_error) -> None:
        session = g.pop("portal_session", None)
        if session is not None:
            session.close()

    return app


def euros(cents: int) -> str:
    return f"€ {cents // 100:,}.{cents % 100:02d}"


__all__ = ["PortalConfig", "create_app", "euros"]
