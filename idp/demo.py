"""``keyholder demo``: the help page's example company, ready to log in to.

Smith ltd (123456789, business) with Philip Smith (administrator), Mary
Jones and Thomas Taylor (users, each with an own mobile), and the Taylor
household (987654321, residential) where Thomas is the administrator and
Emma Taylor a user: Thomas belongs to both customers. The passwords are
public on purpose; demo mode never runs in production.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import click
from flask import Flask
from werkzeug.serving import make_server

from admin_console.worker import start_background_worker
from claims.schema import CustomerType, Role
from idp import PASSWORDS, create_app, database, schema
from idp.directory.services import Directory
from idp.keys import key_store
from idp.serve import ScrubbedRequestHandler
from idp.settings import SettingsError, load_settings


@dataclass(frozen=True)
class DemoCustomer:
    number: str
    name: str
    type: CustomerType


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    password: str
    memberships: tuple[tuple[str, Role, str | None], ...]  # (customer, role, mobile)


SMITH_LTD = DemoCustomer("123456789", "Smith ltd", CustomerType.BUSINESS)
TAYLOR_HOUSEHOLD = DemoCustomer("987654321", "Taylor household", CustomerType.RESIDENTIAL)
CUSTOMERS = (SMITH_LTD, TAYLOR_HOUSEHOLD)

PEOPLE = (
    DemoPerson("philip.smith@smith-ltd.example", "Philip Smith", "philip-demo",
               ((SMITH_LTD.number, Role.ADMINISTRATOR, "+32470000001"),)),
    DemoPerson("mary.jones@smith-ltd.example", "Mary Jones", "mary-demo",
               ((SMITH_LTD.number, Role.USER, "+32470000002"),)),
    DemoPerson("thomas.taylor@smith-ltd.example", "Thomas Taylor", "thomas-demo",
               ((SMITH_LTD.number, Role.USER, "+32470000003"),
                (TAYLOR_HOUSEHOLD.number, Role.ADMINISTRATOR, None))),
    DemoPerson("emma.taylor@taylor-home.example", "Emma Taylor", "emma-demo",
               ((TAYLOR_HOUSEHOLD.number, Role.USER, "+32470000004"),)),
)


def load_demo_data(app: Flask) -> list[str]:
    """Add whatever of the demo data is missing (so it can run at every start);
    returns what was added. Existing rows are left as they are, so changes
    made in the demo survive a restart."""
    added: list[str] = []
    passwords = app.extensions[PASSWORDS]
    with database.write_session(app) as session:
        directory = Directory(session)
        customers = {}
        for spec in CUSTOMERS:
            customer = directory.find_customer(spec.number)
            if customer is None:
                customer = directory.add_customer(spec.number, spec.name, spec.type)
                added.append(f"customer {spec.number}")
            customers[spec.number] = customer
        for spec in PEOPLE:
            person = directory.find_person(spec.email)
            if person is None:
                person = directory.add_person(spec.email, spec.name,
                                              passwords.hash(spec.password),
                                              email_verified=True)
                added.append(f"person {spec.email}")
            for number, role, mobile in spec.memberships:
                if directory.membership(person, customers[number]) is None:
                    directory.add_membership(person, customers[number], role, mobile)
                    added.append(f"membership {spec.email} in {number}")
    return added


def logins_table() -> str:
    lines = ["Demo logins (e-mail / password):"]
    for spec in PEOPLE:
        roles = ", ".join(f"{role.value} of {number}" for number, role, _ in spec.memberships)
        lines.append(f"  {spec.email:<34} {spec.password:<12} {spec.name} ({roles})")
    return "\n".join(lines)


@click.command("demo")
@click.option("--host", help="Address to listen on (default: KEYHOLDER_HOST).")
@click.option("--port", type=int, help="Port to listen on (default: KEYHOLDER_PORT).")
def demo_command(host: str | None, port: int | None) -> None:
    """Set up the demo instance (database, keys, demo data) and run it on loopback."""
    try:
        settings = load_settings(overrides={"DEMO": True})
        host, port = host or settings.HOST, port or settings.PORT
        listener = _listen(host, port)
        # The issuer is where the demo listens, unless KEYHOLDER_ISSUER says otherwise.
        issuer = {} if "ISSUER" not in settings.from_default else {
            "ISSUER": f"http://{host}:{port}"}
        app = create_app({"DEMO": True, **issuer})
    except SettingsError as error:
        raise click.ClickException("invalid settings:\n" + str(error)) from None
    schema.upgrade(database.engine(app))
    key_store(app).ensure()
    load_demo_data(app)
    server = make_server(host, port, app, threaded=True, fd=listener.fileno(),
                         request_handler=ScrubbedRequestHandler)
    base = f"http://{host}:{server.port}"
    from services import demo as services_demo  # the partner services, for the demo only

    try:
        running, stop_services = services_demo.start(app, host)
    except OSError as error:
        listener.close()
        raise click.ClickException(f"cannot start the services: {error.strerror or error}"
                                   ) from None
    worker = start_background_worker(app)  # sends the outbox to the demo mailbox
    click.echo(banner(base, running, app))
    try:
        server.serve_forever()  # returns on Ctrl-C
    finally:
        stop_services()
        worker.stop(timeout=10)
        listener.close()
    click.echo("\nStopped.")


def banner(base: str, running, app: Flask) -> str:
    lines = ["Keyholder demo", "", f"  {'Provider (sign in, the console at /console)':<46} {base}/",
             f"  {'Discovery':<46} {base}/.well-known/openid-configuration",
             f"  {'Health':<46} {base}/health"]
    lines += [f"  {service.title:<46} {service.url}/" for service in running]
    lines += ["", logins_table(), "",
              "The app: .venv/bin/keyholder app login --issuer " + base + " --client-id "
              + app.config["DEMO_APP_CLIENT_ID"] + " --resource " + app.config["DEMO_USAGE_API"],
              "", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, so that a busy port is one clear line rather than a traceback."""
    try:
        listener = socket.create_server((host, port), reuse_port=False)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.set_inheritable(True)
    return listener
