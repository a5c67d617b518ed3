"""``keyholder app``: the operator's app, as far as the protocol goes, on the
command line.

    keyholder app login --client-id ID [--issuer URL] [--resource URI] [--customer NUMBER]
                        [--port 8765] [--no-browser] [--state-dir DIR]
    keyholder app usage [--api URL] [--state-dir DIR]

``login`` shows what the help page calls "in the app, tap your name": the
name, the customer number and the role. ``usage`` calls the Usage API with
the stored access token (refreshed when it has expired) and prints what the
API lets this person see.
"""

from __future__ import annotations

import contextlib
import webbrowser

import click
import requests

from claims import ClaimsError, InvalidCustomerNumber, normalise_customer_number
from services.app.loopback import DEFAULT_PORT, CallbackTimeout, LoopbackReceiver
from services.app.native import AppError, NativeClient, SessionEnded
from services.app.token_file import NoTokens, StoredTokens, TokenFile

DEFAULT_ISSUER = "http://127.0.0.1:8000"  # where `keyholder demo` serves the provider
LOGIN_TIMEOUT = 300  # seconds to complete the sign-in in the browser
TIMEOUT = 10.0

state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False),
    help="Folder of the app's token file (default: ~/.keyholder-app).")


@click.group("app")
def app_group() -> None:
    """The Keyholder app (a native client): sign in and see your usage."""


@app_group.command("login")
@click.option("--issuer", default=DEFAULT_ISSUER, show_default=True, help="The provider.")
@click.option("--client-id", required=True, help="The app's client id at the provider.")
@click.option("--resource", help="The API the access token is for (RFC 8707), e.g. the "
                                 "Usage API's URI.")
@click.option("--customer", help="Sign in for this customer number (when you have several).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Loopback port of the redirect URI http://127.0.0.1:PORT/callback, as "
                   "registered at the provider (0: any free port).")
@click.option("--timeout", type=click.FloatRange(min=1), default=LOGIN_TIMEOUT,
              show_default=True, help="Seconds to wait for the browser.")
@click.option("--no-browser", is_flag=True, help="Only print the address to open.")
@state_dir_option
def login_command(issuer: str, client_id: str, resource: str | None, customer: str | None,
                  port: int, timeout: float, no_browser: bool, state_dir: str | None) -> None:
    """Sign in in the browser and show who you are (name, customer number, role)."""
    if customer is not None:
        try:
            customer = normalise_customer_number(customer)
        except InvalidCustomerNumber as error:
            raise click.BadParameter(error.reason, param_hint="--customer") from None
    client = NativeClient(issuer, client_id, resource=resource)
    try:
        receiver = LoopbackReceiver(port)
    except OSError as error:
        raise click.ClickException(f"Cannot listen on 127.0.0.1:{port} ({error.strerror}); "
                                   "is another sign-in running?") from None
    with _reported(), receiver:
        login = client.start(receiver.redirect_uri, customer_number=customer)
        click.echo("Open this address in your browser to sign in:")
        click.echo(f"  {login.url}")
        if not no_browser:
            webbrowser.open(login.url)
        params = receiver.wait(timeout)
        tokens, identity = client.finish(login, params)
        TokenFile(state_dir).save(tokens)
    click.echo("Signed in.")
    click.echo(f"Name: {identity.claims.get('name') or '(not given)'}")
    click.echo(f"Customer number: {identity.customer_number or '(none)'}")
    click.echo(f"Role: {identity.role.value if identity.role else '(none)'}")


@app_group.command("usage")
@click.option("--api", help="The Usage API's base URL (default: the resource signed in for).")
@state_dir_option
def usage_command(api: str | None, state_dir: str | None) -> None:
    """Show the usage you may see: all subscriptions, or your own mobile."""
    token_file = TokenFile(state_dir)
    with _reported():
        tokens = token_file.load()
        api = api or tokens.resource
        if not api:
            raise AppError("Say where the Usage API is: --api URL.")
        client = NativeClient(tokens.issuer, tokens.client_id, resource=tokens.resource)
        try:
            status, body, tokens = _call_usage(client, token_file, tokens, api)
        except SessionEnded:
            token_file.forget()
            raise
    if status == 403:
        raise click.ClickException(f"Not allowed: {body.get('reason', 'no reason given')}")
    if status != 200:
        reason = body.get("reason") or body.get("error") or "no details"
        raise click.ClickException(f"The Usage API answered HTTP {status}: {reason}")
    click.echo(format_usage(body))


def _call_usage(client: NativeClient, token_file: TokenFile, tokens: StoredTokens, api: str
                ) -> tuple[int, dict, StoredTokens]:
    """GET /usage, refreshing first when the token has expired, and once more
    if the API still calls it invalid (revoked, or expired early)."""
    refreshed = False
    if tokens.expired():
        tokens, refreshed = client.refresh(tokens), True
        token_file.save(tokens)
    while True:
        try:
            response = requests.get(api.rstrip("/") + "/usage", timeout=TIMEOUT,
                                    allow_redirects=False,
                                    headers={"Authorization": f"Bearer {tokens.access_token}",
                                             "Accept": "application/json"})
        except requests.RequestException as error:
            raise AppError(f"The Usage API cannot be reached ({type(error).__name__}).") \
                from None
        if response.status_code == 401 and not refreshed and tokens.refresh_token:
            tokens, refreshed = client.refresh(tokens), True
            token_file.save(tokens)
            continue
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}, tokens


def format_usage(body: dict) -> str:
    """The Usage API's answer, as lines for people."""
    rows = body.get("usage") or []
    if body.get("visibility") == "all":
        lines = [f"Usage of all mobiles of customer {body.get('customer_number')}:"]
    else:
        lines = [f"Usage of your own mobile ({body.get('mobile')}):"]
    if not rows:
        lines.append("  (no usage recorded)")
    for row in rows:
        holder = f" ({row['holder']})" if row.get("holder") else ""
        lines.append(f"  {row.get('mobile')}{holder} {row.get('month')}: "
                     f"{row.get('data_mb')} MB, {row.get('minutes')} min, {row.get('sms')} SMS")
    return "\n".join(lines)


@contextlib.contextmanager
def _reported():
    """Turn what the person should read into one `Error:` line and exit 1."""
    try:
        yield
    except (AppError, NoTokens, CallbackTimeout) as error:
        raise click.ClickException(str(error)) from None
    except ClaimsError as error:  # the provider unreachable or misbehaving
        raise click.ClickException(error.message) from None


__all__ = ["app_group", "format_usage"]
