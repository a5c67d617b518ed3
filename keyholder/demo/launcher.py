"""The demo's partner services and mailbox, started beside the provider.

Each service is an OIDC client of the provider, registered once through the
provider's client registry and
remembered in ``<instance>/demo-clients.json`` (its secrets too: this is the
demo's own folder, never production). Every web server runs in a thread on
loopback, each service on its own port with its own cookie name.

Each service but the app also has a Shared Signals stream
(docs/security-events.md), created with its client: the provider pushes
security events to ``<service>/security-events`` with a random
``Authorization`` header the service is configured with, remembered beside
the client. A later start reuses the stream; a client registered again gets
a new one (the old client's is deleted), and a stream whose address or
header is not the one remembered gets both anew."""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from claims.security_event_types import PUSH
from idp.clients.models import Client
from idp.clients.registry import is_registered, register_client
from idp.infrastructure import database
from idp.infrastructure.serve import ScrubbedRequestHandler
from idp.security_events import streams
from idp.security_events.cli import add_stream
from keyholder.demo import mailbox
from keyholder.demo.operator_records import seed_store
from services import cloud, foot11, onedrive, portal, tv, usage_api
from services.app.loopback import DEFAULT_PORT as APP_PORT
from services.portal import PortalConfig
from services.relying_party import SIGNED_OUT_PATH, WebServiceConfig
from services.tv import TvConfig
from services.usage_api import UsageApiConfig

WEB_SERVICES = (  # name, title, offset from DEMO_PORTS_FROM, factory, config class
    ("portal", "MyProximus self-care", 0, portal.create_app, PortalConfig),
    ("cloud", "The Cloud", 1, cloud.create_app, WebServiceConfig),
    ("foot11", "Foot 11", 2, foot11.create_app, WebServiceConfig),
    ("onedrive", "OneDrive for Business", 3, onedrive.create_app, WebServiceConfig),
)
TV_OFFSET, API_OFFSET, MAILBOX_OFFSET = 4, 5, 6
EVENTS_PATH = "/security-events"  # where each service takes its security events


@dataclass
class Running:
    name: str
    title: str
    url: str
    server: BaseWSGIServer
    thread: threading.Thread
    entry: str = "/"  # the page to open (an API: its endpoint)


def _clients(app: Flask, specs: dict[str, dict], pushes: dict[str, str]) -> dict[str, dict]:
    """Register the demo's clients once, with a stream pushing to ``pushes[name]``
    for those named there; later starts reuse them."""
    path = Path(app.instance_path) / "demo-clients.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    with database.write_session(app) as session:  # a writer from the start (SQLite)
        for name, spec in specs.items():
            entry = known.get(name)
            registered = entry is not None and is_registered(session, entry["client_id"])
            if not (registered and entry["spec"] == spec):
                if registered:  # replaced: its stream would push with a secret nobody has
                    for stream in streams.of_client(session, session.get(Client,
                                                                         entry["client_id"])):
                        streams.remove(session, stream)
                registration = register_client(session, app, **spec)
                entry = known[name] = {"client_id": registration.client.id,
                                       "client_secret": registration.client_secret,
                                       "spec": spec}
            if name in pushes:
                entry["stream"] = _stream(app, session, name, entry, pushes[name])
    path.write_text(json.dumps(known, indent=1))
    os.chmod(path, 0o600)
    return known


def _stream(app: Flask, session, name: str, entry: dict, push_url: str) -> dict:
    """The client's stream (its id and the Authorization header it pushes
    with): the one remembered if it still pushes there with that header;
    else the client's stream given a new header (and address), or a new one."""
    client = session.get(Client, entry["client_id"])
    remembered = entry.get("stream") or {}
    existing = streams.of_client(session, client)
    stream = existing[0] if existing else None
    if stream is not None and stream.id == remembered.get("id") and stream.method == PUSH \
            and stream.endpoint_url == push_url \
            and stream.authorization_header == remembered.get("authorization"):
        return remembered
    authorization = "Bearer " + secrets.token_urlsafe(32)
    if stream is None:
        stream = add_stream(session, client, push_url, authorization, (), f"Demo: {name}")
    else:
        streams.update(session, client, {"stream_id": stream.id, "delivery": {
            "method": PUSH, "endpoint_url": push_url, "authorization_header": authorization}},
            app.config["KEYHOLDER"].ISSUER, replace=False)
    return {"id": stream.id, "authorization": authorization}


def _serve(name: str, title: str, wsgi, host: str, port: int, entry: str = "/") -> Running:
    server = make_server(host, port, wsgi, threaded=True, request_handler=ScrubbedRequestHandler)
    server.service_name = name  # in its access log lines
    thread = threading.Thread(target=server.serve_forever, name=f"demo-{name}", daemon=True)
    thread.start()
    return Running(name, title, f"http://{host}:{server.port}", server, thread, entry)


def start(app: Flask, host: str) -> tuple[list[Running], Callable[[], None]]:
    """Start the services and the mailbox (the provider is the caller's);
    returns what runs and a function that stops it all."""
    settings = app.config["KEYHOLDER"]
    first = settings.DEMO_PORTS_FROM
    issuer = settings.ISSUER
    url = {name: f"http://{host}:{first + offset}" for name, _, offset, _, _ in WEB_SERVICES}
    api_url, tv_url = f"http://{host}:{first + API_OFFSET}", f"http://{host}:{first + TV_OFFSET}"
    specs = {name: {"name": title, "client_type": "web", "first_party": True,
                    "redirect_uris": [f"{url[name]}/callback"],
                    "post_logout_redirect_uris": [url[name] + SIGNED_OUT_PATH],
                    "backchannel_logout_uri": f"{url[name]}/backchannel-logout"}
             for name, title, _, _, _ in WEB_SERVICES}
    specs["tv"] = {"name": "TV", "client_type": "device", "first_party": True}
    specs["usage_api"] = {"name": "Usage API", "client_type": "service",
                          "resource_uri": f"{api_url}/"}
    specs["app"] = {"name": "MyProximus app", "client_type": "native", "first_party": True,
                    "redirect_uris": [f"http://127.0.0.1:{APP_PORT}/callback"]}
    pushes = {**{name: url[name] + EVENTS_PATH for name in url},
              "tv": tv_url + EVENTS_PATH, "usage_api": api_url + EVENTS_PATH}
    clients = _clients(app, specs, pushes)
    events = {name: clients[name]["stream"]["authorization"] for name in pushes}
    # The shared header: the operator, and its places linked together.
    header = {"operator_name": settings.OPERATOR_NAME,
              "operator_logo_url": settings.OPERATOR_LOGO_URL, "time_zone": settings.TIME_ZONE,
              "links": _places(url, issuer, tv_url)}
    data_path = str(Path(app.instance_path) / "operator.db")
    seed_store(data_path)  # the operator's records of the demo customers
    running: list[Running] = []
    smtp = urlsplit(settings.SMTP_URL)
    box = mailbox.DemoMailbox(smtp.hostname or "127.0.0.1", smtp.port or 25).start()
    try:
        for name, title, offset, factory, config_class in WEB_SERVICES:
            extra = {"database_path": data_path} if name == "portal" else {}
            config = config_class(
                name=name, title=title, issuer=issuer, client_id=clients[name]["client_id"],
                client_secret=clients[name]["client_secret"], base_url=url[name],
                cookie_name=f"demo_{name}", secret_key=secrets.token_urlsafe(32),
                required_entitlement=None if name == "portal" else name,
                security_events_authorization=events[name], **header, **extra)
            running.append(_serve(name, title, factory(config), host, first + offset))
        running.append(_serve("tv", "TV (set-top box)", tv.create_app(TvConfig(
            issuer=issuer, client_id=clients["tv"]["client_id"], base_url=tv_url,
            cookie_name="demo_tv", secret_key=secrets.token_urlsafe(32),
            security_events_authorization=events["tv"], **header)), host, first + TV_OFFSET))
        running.append(_serve("usage_api", "Usage API (JSON)", usage_api.create_app(
            UsageApiConfig(issuer=issuer, client_id=clients["usage_api"]["client_id"],
                           client_secret=clients["usage_api"]["client_secret"],
                           resource_uri=f"{api_url}/", data_url=f"sqlite:///{data_path}",
                           security_events_authorization=events["usage_api"])),
            host, first + API_OFFSET, entry="/usage"))
        running.append(_serve("mailbox", "Mailbox", mailbox.create_app(
            box, secrets.token_urlsafe(32)), host, first + MAILBOX_OFFSET))
    except BaseException:
        _stop(running, box)
        raise
    app.config["DEMO_APP_CLIENT_ID"] = clients["app"]["client_id"]
    app.config["DEMO_USAGE_API"] = f"{api_url}/"
    return running, lambda: _stop(running, box)


def _places(url: dict[str, str], issuer: str, tv_url: str) -> tuple[tuple[str, str], ...]:
    """(title, URL) of the operator's places, the portal first (the brand's
    home); each service marks its own as the current one."""
    return (("Self-care", url["portal"] + "/"), ("Account and roles", issuer + "/console/"),
            ("The Cloud", url["cloud"] + "/"), ("Foot 11", url["foot11"] + "/"),
            ("OneDrive for Business", url["onedrive"] + "/"), ("Proximus TV", tv_url + "/"))


def _stop(running: list[Running], box: mailbox.DemoMailbox) -> None:
    for service in running:
        service.server.shutdown()
        service.server.server_close()
    box.stop()
