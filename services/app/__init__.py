"""The operator's app, as a native public client of Keyholder (RFC 8252): a
loopback redirect receiver, PKCE, the token file, and the ``keyholder app``
commands (:mod:`services.app.cli`)."""
