"""A real provider on loopback for protocol tests: the application served by
a threaded HTTP server on a free port, its issuer that URL, its database
parametrised (SQLite and PostgreSQL), the demo people loaded, signing keys
copied from a session-wide set (see tests/support/keys.py).

``provider`` is a test's own. ``shared_provider`` is one per module and
database, for modules of refusal tables that opt in (tests/README.md,
"Sharing a provider")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask

from idp.clients.registry import register_client
from idp.infrastructure import database
from idp.infrastructure.serve import ScrubbedRequestHandler
from idp.keys import key_store
from idp.outbox.worker import BackgroundWorker
from keyholder.demo.data import load_demo_data
from tests.provider.agents import RelyingParty
from tests.support.apps import build_app
from tests.support.keys import decrypted_once, make_key_folder
from tests.support.serving import listen, served
from tests.support.settings import TEST_SETTINGS


@pytest.fixture(scope="session")
def keys_template(tmp_path_factory) -> Iterator[Path]:
    """The keys every provider starts with (a copy of its own), decrypted once."""
    folder = make_key_folder(tmp_path_factory.mktemp("keys-template") / "keys",
                             TEST_SETTINGS["KEYS_PASSPHRASE"])
    with decrypted_once(folder):
        yield folder


@dataclass
class Provider:
    app: Flask
    url: str
    clients: dict[str, RelyingParty] = field(default_factory=dict)

    def register(self, name: str, client_type: str = "web", *, redirect_uris=None,
                 post_logout_redirect_uris=(), first_party: bool = True,
                 id_token_alg: str = "RS256", **extra) -> RelyingParty:
        if redirect_uris is None:
            redirect_uris = [] if client_type == "service" else [
                f"http://127.0.0.1:9/{name.lower().replace(' ', '-')}/callback"]
        # A writer from the start: the background pusher writes too (SQLite's lock).
        with self.app.app_context(), database.write_session(self.app) as session:
            registration = register_client(
                session, self.app, name, client_type, redirect_uris=list(redirect_uris),
                post_logout_redirect_uris=list(post_logout_redirect_uris),
                first_party=first_party, id_token_alg=id_token_alg, **extra)
        rp = RelyingParty(self.url, registration.client.id, registration.client_secret,
                          list(redirect_uris))
        self.clients[name] = rp
        return rp

    def command(self, *args: str) -> subprocess.CompletedProcess:
        """``keyholder ARGS`` in another process, on this provider's instance."""
        settings = self.app.config["KEYHOLDER"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
        env.update(KEYHOLDER_KEYS_DIR=settings.KEYS_DIR, KEYHOLDER_KEYS_STORE=settings.KEYS_STORE,
                   KEYHOLDER_DATABASE_URL=settings.DATABASE_URL,
                   KEYHOLDER_KEYS_PASSPHRASE=TEST_SETTINGS["KEYS_PASSPHRASE"],
                   KEYHOLDER_SECRET_KEY=TEST_SETTINGS["SECRET_KEY"], KEYHOLDER_ISSUER=self.url,
                   KEYHOLDER_INSTANCE_PATH=settings.INSTANCE_PATH)
        return subprocess.run([str(Path(sys.executable).with_name("keyholder")), *args],
                              env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def provider_settings() -> dict:
    """Extra settings of the ``provider`` fixture; override it in a folder's conftest."""
    return {}


@contextmanager
def running_provider(database_url: str, folder: Path, keys_template: Path,
                     **settings) -> Iterator[Provider]:
    """The provider on ``database_url`` with the demo data, served on a free
    port that is its issuer; its instance and a copy of the keys in ``folder``."""
    keys = folder / "keys"
    shutil.copytree(keys_template, keys)
    listener, url = listen()
    with listener:
        app = build_app(database_url, folder, KEYS_DIR=str(keys), ISSUER=url, **settings)
        try:
            key_store(app).ensure()
            load_demo_data(app)
            # The pushes (logout tokens, security events) go out as `keyholder
            # worker` sends them in production; e-mails stay for each test to send.
            pusher = BackgroundWorker(app, 1.0, mail=False)
            pusher.start()
            try:
                with served(app, listener, request_handler=ScrubbedRequestHandler):
                    yield Provider(app, url)
            finally:
                pusher.stop(timeout=30)
        finally:
            database.engine(app).dispose()


@pytest.fixture
def provider(database_url, tmp_path, keys_template, provider_settings) -> Iterator[Provider]:
    with running_provider(database_url, tmp_path, keys_template,
                          **provider_settings) as running:
        yield running


@pytest.fixture(scope="module")
def shared_provider(module_database_url, tmp_path_factory,
                    keys_template) -> Iterator[Provider]:
    """One provider for all the tests of a module, per database. A module opts
    in by defining ``provider`` as this, with scope="module"."""
    with running_provider(module_database_url, tmp_path_factory.mktemp("shared-provider"),
                          keys_template) as running:
        yield running


@pytest.fixture
def web(provider) -> RelyingParty:
    """A first-party web client with a post-logout URI."""
    return provider.register("Cloud", "web",
                             post_logout_redirect_uris=["http://127.0.0.1:9/cloud/bye"])
