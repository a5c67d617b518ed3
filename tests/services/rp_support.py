"""Helpers for the tests of the usage API, the app and the TV: services served
on loopback next to the real provider, and the installed ``keyholder app``
command driven as a person would (the printed address opened by a user agent
that logs in and follows the redirect to the app's loopback port)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt as pyjwt
from flask import Flask

from keyholder.demo.operator_records import seed_store
from services.usage_api import UsageApiConfig
from services.usage_api import create_app as create_usage_api
from tests.provider.agents import RelyingParty, UserAgent
from tests.support.serving import listen
from tests.support.serving import served as serve_app

KEYHOLDER = Path(sys.executable).with_name("keyholder")


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


@contextlib.contextmanager
def served(make_app) -> Iterator[tuple[str, Flask]]:
    """Serve ``make_app(url)`` on a free loopback port; yields (url, app)."""
    listener, url = listen()
    app = make_app(url)
    with serve_app(app, listener):
        yield url, app


@dataclass
class UsageApi:
    url: str  # also its resource URI
    client: RelyingParty
    app: Flask


def operator_store(folder: Path) -> str:
    """The operator's demo records in a SQLite file; its SQLAlchemy URL."""
    path = folder / "operator.db"
    seed_store(path)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def usage_api(provider, folder: Path) -> Iterator[UsageApi]:
    """The Usage API on loopback, registered at ``provider`` as a service
    whose resource URI is the API's URL."""
    data_url = operator_store(folder)
    registered: list[RelyingParty] = []

    def make(url: str) -> Flask:
        registered.append(provider.register("Usage API", "service", resource_uri=url))
        return create_usage_api(UsageApiConfig(provider.url, registered[0].client_id,
                                               registered[0].client_secret, url, data_url))

    with served(make) as (url, app):
        yield UsageApi(url, registered[0], app)


def keyholder_app(*args: str, home: Path) -> subprocess.Popen:
    """``keyholder app ARGS`` as a process (HOME in the test's folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    return subprocess.Popen([str(KEYHOLDER), "app", *args], env={**env, "HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_app(*args: str, home: Path) -> subprocess.CompletedProcess:
    process = keyholder_app(*args, home=home)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@dataclass
class AppLogin:
    """One ``keyholder app login`` run to its end."""

    returncode: int
    stdout: str
    stderr: str
    callback_page: str


def app_login(issuer: str, client_id: str, port: int, state_dir: Path, *, email: str,
              password: str, extra: tuple[str, ...] = (), consent: str = "allow") -> AppLogin:
    """Run the login, open the address it prints in a user agent, sign in
    there and follow the redirect to the app's loopback receiver."""
    process = keyholder_app("login", "--issuer", issuer, "--client-id", client_id,
                            "--port", str(port), "--no-browser", "--timeout", "30",
                            "--state-dir", str(state_dir), *extra, home=state_dir.parent)
    try:
        printed = []
        for line in process.stdout:
            printed.append(line)
            if line.strip().startswith("http"):
                url = line.strip()
                break
        else:
            raise AssertionError("no address printed:\n" + "".join(printed)
                                 + process.stderr.read())
        agent = UserAgent(issuer)
        response = agent.follow(agent.get(url), email=email, password=password, consent=consent)
        assert response.is_redirect, (response.status_code, response.text[:300])
        location = response.headers["Location"]
        assert location.startswith(f"http://127.0.0.1:{port}/callback?"), location
        page = agent.http.get(location, timeout=10, allow_redirects=False)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return AppLogin(process.returncode, "".join(printed) + out, err, page.text)


__all__ = ["KEYHOLDER", "AppLogin", "UsageApi", "app_login", "claims_of", "keyholder_app",
           "operator_store", "run_app", "served", "usage_api"]
