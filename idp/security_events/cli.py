"""``keyholder ssf ...``: the operator's view of the receivers' streams.
A stream is set up for a service at registration (``keyholder client add
... --ssf-push URL``) or here; a receiver with a secret can then manage its
own through the management API. Each command is one transaction."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from claims.security_event_types import PUSH, STREAM_UPDATED, SUBSCRIBABLE
from idp.clients.models import Client
from idp.directory.cli_support import unit_of_work
from idp.security_events import queue, streams
from idp.security_events.models import EventStream, PushDelivery, StreamStatus

ssf_group = AppGroup("ssf", help="Shared Signals streams (security events to the services).")


def add_stream(db, client: Client, push_url: str | None, authorization: str | None,
               events: tuple[str, ...], description: str | None) -> EventStream:
    """The stream the operator sets up for ``client``: push to ``push_url``,
    or poll when it is None."""
    body: dict = {}
    if push_url is not None:
        body["delivery"] = {"method": PUSH, "endpoint_url": push_url}
        if authorization:
            body["delivery"]["authorization_header"] = authorization
    if events:
        body["events_requested"] = list(events)
    if description:
        body["description"] = description
    return streams.create(db, client, body)


def _fail(error: streams.StreamError):
    return click.ClickException(error.description)


@ssf_group.command("add")
@click.argument("client_id")
@click.option("--push", "push_url", help="Push SETs to this URL (RFC 8935); else the "
              "receiver polls (RFC 8936).")
@click.option("--authorization-header", help="Sent as Authorization with every push.")
@click.option("--event", "events", multiple=True, type=click.Choice(SUBSCRIBABLE),
              help="An event type to deliver (repeatable; default: all).")
@click.option("--description")
def ssf_add(client_id, push_url, authorization_header, events, description) -> None:
    """Create the stream of a client; prints its configuration as JSON."""
    with unit_of_work() as directory:
        client = directory.session.get(Client, client_id)
        if client is None:
            raise click.ClickException(f"There is no client {client_id}.")
        try:
            stream = add_stream(directory.session, client, push_url, authorization_header,
                                events, description)
        except streams.StreamError as error:
            raise _fail(error) from None
        issuer = current_app.config["KEYHOLDER"].ISSUER
        config = streams.configuration(stream, issuer, f"{issuer}/ssf/poll/{stream.id}")
    click.echo(json.dumps(config, indent=2))


@ssf_group.command("list")
def ssf_list() -> None:
    """Every stream: client, delivery, status (and why), events waiting."""
    with unit_of_work() as directory:
        db = directory.session
        waiting = dict(db.execute(select(PushDelivery.stream_id, func.count())
                                  .where(PushDelivery.delivered_at.is_(None))
                                  .group_by(PushDelivery.stream_id)).all())
        rows = db.execute(select(EventStream, Client.name).join(Client)
                          .order_by(EventStream.created_at)).all()
        for stream, name in rows:
            where = stream.endpoint_url if stream.method == PUSH else "poll"
            reason = f" ({stream.reason})" if stream.reason else ""
            click.echo(f"{stream.id}  {name} [{stream.client_id}]  {where}  "
                       f"{stream.status}{reason}  waiting={waiting.get(stream.id, 0)}")


def _set(stream_id: str, status: StreamStatus, reason: str | None) -> None:
    """The transmitter (its operator) changes a stream's status: the receiver
    is told by a stream-updated event (SSF §8.1.5), queued behind what the
    stream holds. A disabled stream delivers nothing, that event included:
    the receiver reads its status."""
    with unit_of_work() as directory:
        stream = directory.session.get(EventStream, stream_id)
        if stream is None:
            raise click.ClickException(f"There is no stream {stream_id}.")
        before = stream.status
        streams.set_status(directory.session, stream, status.value, reason)
        if before != status.value:
            body = {"status": status.value, **({"reason": reason} if reason else {})}
            queue.queue_event(directory.session, stream, STREAM_UPDATED, body,
                              queue.stream_subject(stream), None)
    click.echo(f"Stream {stream_id} is {status.value}.")


@ssf_group.command("enable")
@click.argument("stream_id")
def ssf_enable(stream_id: str) -> None:
    """Resume a stream (a paused one sends what it held)."""
    _set(stream_id, StreamStatus.ENABLED, None)


@ssf_group.command("disable")
@click.argument("stream_id")
@click.option("--reason")
def ssf_disable(stream_id: str, reason: str | None) -> None:
    """Stop a stream; what it held is dropped."""
    _set(stream_id, StreamStatus.DISABLED, reason)


@ssf_group.command("delete")
@click.argument("stream_id")
def ssf_delete(stream_id: str) -> None:
    with unit_of_work() as directory:
        stream = directory.session.get(EventStream, stream_id)
        if stream is None:
            raise click.ClickException(f"There is no stream {stream_id}.")
        streams.remove(directory.session, stream)
    click.echo(f"Stream {stream_id} is deleted.")
