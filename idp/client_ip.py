"""The client's address (SECURITY §2.16): the peer's, unless the peer is a
configured trusted proxy; then the nearest untrusted X-Forwarded-For entry.
A forged header from anyone else changes nothing."""

from __future__ import annotations

import ipaddress

from flask import current_app, request


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip() -> str:
    peer = request.remote_addr or "unknown"
    networks = current_app.config["KEYHOLDER"].TRUSTED_PROXIES
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([p for p in forwarded if p]):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy: fall back to what we know
    return peer
