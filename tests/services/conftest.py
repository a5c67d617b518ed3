"""The services on loopback, each a web client of the real provider (the
``provider`` fixture): registered with ``provider.register``, built by its
factory, served by a threaded werkzeug server on a free port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask

from keyholder.demo.operator_records import seed_store
from services import cloud, foot11, onedrive, portal
from services.portal.data_store import ENGINE
from services.relying_party import WebServiceConfig
from tests.provider.agents import RelyingParty
from tests.services.browser import Browser
from tests.support.saved_languages import save_language
from tests.support.serving import listen, serve

SECRET_KEY = "services-test-secret-key-0123456789abcdef"


@dataclass
class RunningService:
    app: Flask
    url: str
    config: WebServiceConfig
    client: RelyingParty

    @property
    def sessions(self):
        return self.app.extensions["services.rp"].sessions


@pytest.fixture
def start_service(provider) -> Callable[..., RunningService]:
    """Register and serve one service: ``start_service(factory, name, title, ...)``."""
    running = []

    def start(factory, name: str, title: str, *, config_class=WebServiceConfig,
              **extra) -> RunningService:
        """``links`` may be a function of the service's URL (to link to itself)."""
        listener, url = listen()
        if callable(extra.get("links")):
            extra["links"] = extra["links"](url)
        config = config_class(name=name, title=title, issuer=provider.url,
                              client_id="to-be-registered", client_secret="-", base_url=url,
                              cookie_name=f"{name}_session", secret_key=SECRET_KEY, **extra)
        client = provider.register(title, "web", redirect_uris=[config.redirect_uri],
                                   post_logout_redirect_uris=[config.post_logout_redirect_uri],
                                   backchannel_logout_uri=config.backchannel_logout_uri)
        config = config_class(**{**vars(config), "client_id": client.client_id,
                                 "client_secret": client.client_secret})
        app = factory(config)
        running.append((app, serve(app, listener)))
        return RunningService(app, url, config, client)

    yield start
    for app, served in running:
        served.stop()
        engine = app.extensions.get(ENGINE)
        if engine is not None:
            engine.dispose()


@pytest.fixture
def english_people(provider) -> None:
    """Every demo person reads English (Philip reads Dutch and Mary French,
    which their ``locale`` claim tells the services): for the tests of what
    the pages say, in English."""
    save_language(provider.app, "en")


@pytest.fixture
def the_cloud(start_service) -> RunningService:
    return start_service(cloud.create_app, "cloud", "The Cloud")


@pytest.fixture
def foot_11(start_service) -> RunningService:
    return start_service(foot11.create_app, "foot11", "Foot 11")


@pytest.fixture
def one_drive(start_service) -> RunningService:
    return start_service(onedrive.create_app, "onedrive", "OneDrive for Business")


@pytest.fixture
def the_portal(start_service, tmp_path) -> RunningService:
    seed_store(tmp_path / "operator.db")
    return start_service(portal.create_app, "portal", "My account",
                         config_class=portal.PortalConfig,
                         database_path=str(tmp_path / "operator.db"))


@pytest.fixture
def browser(provider) -> Browser:
    return Browser(provider.url)
