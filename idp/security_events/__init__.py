"""The Shared Signals transmitter (OpenID SSF 1.0, CAEP 1.0): role changes
and ended sessions pushed to the partner services as Security Event Tokens,
and the push outbox that also carries back-channel logout tokens. See
docs/security-events.md."""

from flask import Flask


def init_app(app: Flask) -> None:
    from idp.security_events import api, sources

    sources.install()
    api.init_app(app)
