"""``keyholder client add``: register a relying party, print its credentials as JSON."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.clients.models import ID_TOKEN_ALGORITHMS, ClientType
from idp.clients.registry import register_client
from idp.directory.cli import unit_of_work
from idp.security_events.cli import add_stream
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
    out = {"client_id": client.id, "client_name": client.name, "type": client.type.value,
           "token_endpoint_auth_method": "client_secret_basic" if client.is_confidential
           else "none",
           "redirect_uris": client.redirect_uris,
           "post_logout_redirect_uris": client.post_logout_redirect_uris,
           "first_party": client.first_party,
           "id_token_signed_response_alg": client.id_token_signed_response_alg,
           "backchannel_logout_uri": client.backchannel_logout_uri,
           "resource": client.resource_uri}
    if stream is not None:
        out["ssf_stream_id"] = stream.id
    if registration.client_secret:
        out["client_secret"] = registration.client_secret
    click.echo(json.dumps(out, indent=2))
