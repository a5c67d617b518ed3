"""A real provider on loopback for protocol tests: the application served by
a threaded HTTP server on a free port, its issuer that URL, its database
parametrised (SQLite and PostgreSQL), the demo people loaded, signing keys
copied from a session-wide set (RSA generation is slow)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from idp.clients.registry import register_client
from idp.infrastructure import database
from idp.infrastructure.serve import ScrubbedRequestHandler
from idp.keys import KeyStore, key_store, retention_seconds
from idp.settings import load_settings
from keyholder.demo.data import load_demo_data
from tests.conftest import TEST_SETTINGS
from tests.provider.agents import RelyingParty


@pytest.fixture(scope="session")
def keys_template(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("keys-template") / "keys"
    settings = load_settings({}, {"ACCESS_TOKEN_LIFETIME": 300, "ID_TOKEN_LIFETIME": 600})
    KeyStore(directory, TEST_SETTINGS["KEYS_PASSPHRASE"],
             retention_seconds=retention_seconds(settings)).ensure()
    return directory


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
        with self.app.app_context():
            session = database.session()
            registration = register_client(
                session, self.app, name, client_type, redirect_uris=list(redirect_uris),
                post_logout_redirect_uris=list(post_logout_redirect_uris),
                first_party=first_party, id_token_alg=id_token_alg, **extra)
            session.commit()
        rp = RelyingParty(self.url, registration.client.id, registration.client_secret,
                          list(redirect_uris))
        self.clients[name] = rp
        return rp

    def command(self, *args: str) -> subprocess.CompletedProcess:
        """``keyholder ARGS`` in another process, on this provider's instance."""
        settings = self.app.config["KEYHOLDER"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
        env.update(KEYHOLDER_KEYS_DIR=settings.KEYS_DIR,
                   KEYHOLDER_DATABASE_URL=settings.DATABASE_URL,
                   KEYHOLDER_KEYS_PASSPHRASE=TEST_SETTINGS["KEYS_PASSPHRASE"],
                   KEYHOLDER_SECRET_KEY=TEST_SETTINGS["SECRET_KEY"], KEYHOLDER_ISSUER=self.url,
                   KEYHOLDER_INSTANCE_PATH=settings.INSTANCE_PATH)
        return subprocess.run([str(Path(sys.executable).with_name("keyholder")), *args],
                              env=env, capture_output=True, text=True, timeout=60, check=False)


def serve(app: Flask, listener: socket.socket):
    server = make_server("127.0.0.1", listener.getsockname()[1], app, threaded=True,
                         fd=listener.fileno(), request_handler=ScrubbedRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def provider_settings() -> dict:
    """Extra settings of the ``provider`` fixture; override it in a folder's conftest."""
    return {}


@pytest.fixture
def provider(make_app, database_url, tmp_path, keys_template, provider_settings):
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    keys = tmp_path / "keys"
    shutil.copytree(keys_template, keys)
    app = make_app(database_url, KEYS_DIR=str(keys), ISSUER=url, **provider_settings)
    key_store(app).ensure()
    load_demo_data(app)
    server, thread = serve(app, listener)
    try:
        yield Provider(app, url)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        listener.close()


@pytest.fixture
def web(provider) -> RelyingParty:
    """A first-party web client with a post-logout URI."""
    return provider.register("Cloud", "web",
                             post_logout_redirect_uris=["http://127.0.0.1:9/cloud/bye"])
