"""``keyholder client add | list | show | remove``: register a relying party
(its credentials printed as JSON, the secret once), see the clients, remove
one. Nothing printed ever holds a client secret or its hash."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from claims.security_event_types import PUSH
from idp.clients.models import ID_TOKEN_ALGORITHMS, Client, ClientType
from idp.clients.registry import (
    InvalidClientMetadata,
    register_client,
    remove_client,
    rotate_secret,
)
from idp.directory.cli_support import printable, reading, unit_of_work
from idp.directory.errors import NotFound
from idp.directory.models import utcnow
from idp.directory.services import OPERATOR
from idp.directory.transfer import code_point_order
from idp.protocol.tokens.models import TokenGrant
from idp.security_events.cli import add_stream
from idp.security_events.models import EventStream
from idp.security_events.streams import StreamError

client_group = click.Group("client", help="OAuth clients (relying parties, services, apps).")


@client_group.command("add")
@click.argument("name")
@click.option("--type", "client_type", required=True,
              type=click.Choice([t.value for t in ClientType]))
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Exact redirect URI (repeat for several).")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Where RP-initiated logout may send the browser (repeatable).")
@click.option("--first-party", is_flag=True, help="Operator's own client: no consent page.")
@click.option("--id-token-alg", type=click.Choice(ID_TOKEN_ALGORITHMS), default="RS256",
              show_default=True)
@click.option("--confidential", is_flag=True, help="A device client that can keep a secret.")
@click.option("--backchannel-logout-uri", help="Where to POST logout tokens (OIDC Back-Channel "
              "Logout).")
@click.option("--resource", "resource_uri", help="A service's resource URI (RFC 8707): tokens "
              "asked for it have it as audience.")
@click.option("--ssf-push", "ssf_push", help="Create its Shared Signals stream: push security "
              "events to this URL (RFC 8935).")
@click.option("--ssf-poll", is_flag=True, help="Create its Shared Signals stream, polled "
              "(RFC 8936).")
@with_appcontext
def client_add(name, client_type, redirect_uris, post_logout_redirect_uris, first_party,
               id_token_alg, confidential, backchannel_logout_uri, resource_uri, ssf_push,
               ssf_poll) -> None:
    """Register a client; prints JSON with client_id (and client_secret, once)."""
    with unit_of_work() as directory:
        registration = register_client(
            directory.session, current_app, name, client_type,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            first_party=first_party, id_token_alg=id_token_alg,
            confidential=True if confidential else None,
            backchannel_logout_uri=backchannel_logout_uri, resource_uri=resource_uri)
        stream = None
        if ssf_push or ssf_poll:
            try:
                stream = add_stream(directory.session, registration.client, ssf_push, None, (),
                                    None)
            except StreamError as error:
                raise click.ClickException(error.description) from None
    client = registration.client
    out = _metadata(client)
    if stream is not None:
        out["ssf_stream_id"] = stream.id
    if registration.client_secret:
        out["client_secret"] = registration.client_secret
    click.echo(json.dumps(out, indent=2))


def _metadata(client: Client) -> dict:
    """What a client is, as ``client add`` prints it, without any secret."""
    return {"client_id": client.id, "client_name": client.name, "type": client.type.value,
            "token_endpoint_auth_method": "client_secret_basic" if client.is_confidential
            else "none",
            "redirect_uris": client.redirect_uris,
            "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "first_party": client.first_party,
            "id_token_signed_response_alg": client.id_token_signed_response_alg,
            "backchannel_logout_uri": client.backchannel_logout_uri,
            "resource": client.resource_uri}


@client_group.command("list")
@with_appcontext
def client_list() -> None:
    """Every client, by name: id, type, first or third party, how many
    redirect URIs, whether it has a Shared Signals stream, name."""
    with reading() as directory:
        db = directory.session
        streams = set(db.scalars(select(EventStream.client_id).distinct()))
        clients = db.scalars(select(Client).order_by(code_point_order(db, Client.name),
                                                     code_point_order(db, Client.id))).all()
        if not clients:
            click.echo("No clients.")
        for client in clients:
            uris = len(client.redirect_uris)
            click.echo(f"{client.id}  {client.type.value:<7}  "
                       f"{'first-party' if client.first_party else 'third-party'}  "
                       f"{uris:>2} redirect {'URI ' if uris == 1 else 'URIs'}  "
                       f"{'stream   ' if client.id in streams else 'no stream'}  "
                       f"{printable(client.name)}")


@client_group.command("show")
@click.argument("client_id")
@with_appcontext
def client_show(client_id: str) -> None:
    """Show a client's metadata as JSON, its Shared Signals streams and how
    many live token families it has (never its secret nor the secret's hash)."""
    with reading() as directory:
        db = directory.session
        client = _find(db, client_id)
        out = _metadata(client)
        out["created_at"] = client.created_at.isoformat()
        out["ssf_streams"] = [
            {"stream_id": stream.id, "delivery": "push" if stream.method == PUSH else "poll",
             "endpoint_url": stream.endpoint_url, "status": stream.status}
            for stream in db.scalars(select(EventStream).where(EventStream.client_id == client.id)
                                     .order_by(EventStream.created_at, EventStream.id))]
        out["live_token_families"] = db.scalar(
            select(func.count()).select_from(TokenGrant)
            .where(TokenGrant.client_id == client.id, TokenGrant.revoked_at.is_(None),
                   TokenGrant.expires_at > utcnow()))
    click.echo(json.dumps(out, indent=2))


def _find(db, client_id: str) -> Client:
    known = 0 < len(client_id) <= 64 and client_id.isprintable() and client_id.isascii()
    client = db.get(Client, client_id) if known else None
    if client is None:
        raise NotFound("There is no client with this id.")
    return client


@client_group.command("rotate-secret")
@click.argument("client_id")
@with_appcontext
def client_rotate_secret(client_id: str) -> None:
    """Give a confidential client a new secret (printed once, as JSON). The old
    one is refused at once here, by every provider process within
    KEYHOLDER_CLIENT_CACHE_SECONDS. Audited."""
    with unit_of_work() as directory:
        client = _find(directory.session, client_id)
        try:
            secret = rotate_secret(directory.session, current_app, client)
        except InvalidClientMetadata as error:
            raise click.ClickException(str(error)) from None
        directory.record("client.secret_rotated", OPERATOR, client_id=client.id)
    click.echo(json.dumps({"client_id": client.id, "client_secret": secret}, indent=2))


@client_group.command("remove")
@click.argument("client_id")
@with_appcontext
def client_remove(client_id: str) -> None:
    """Remove a client: its token families are revoked, then it is deleted
    with its codes, consents, Shared Signals streams and undelivered pushes.
    Running provider processes cache clients for KEYHOLDER_CLIENT_CACHE_SECONDS: they may
    still accept it that long."""
    with unit_of_work() as directory:
        removal = remove_client(directory.session, current_app,
                                _find(directory.session, client_id))
        client = removal.client
        directory.record("client.removed", OPERATOR, client_id=client.id,
                         client_name=client.name, type=client.type.value,
                         families_revoked=removal.families_revoked)
    lifetime = current_app.config["KEYHOLDER"].ACCESS_TOKEN_LIFETIME
    click.echo(f"Removed client {client.id} ({printable(client.name)}): "
               f"{removal.families_revoked} token family(ies) revoked.")
    seconds = current_app.config["KEYHOLDER"].CLIENT_CACHE_SECONDS
    click.echo(f"Running provider processes forget it within {seconds:.0f} s (their "
               "client cache); until then they may still accept its credentials. Access "
               f"tokens it got without a family (client credentials) stay valid until they "
               f"expire, at most {lifetime} s.")
