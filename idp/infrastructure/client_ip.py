"""The client's address: the peer's, or, behind a trusted proxy, the one
:mod:`idp.infrastructure.edge` read from its ``X-Forwarded-For`` (a forged header from
anyone else never reaches the application)."""

from __future__ import annotations

from flask import request


def client_ip() -> str:
    return request.remote_addr or "unknown"
