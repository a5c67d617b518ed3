"""Whose X-Forwarded-* headers are believed (idp.infrastructure.edge.ForwardedHeaders):
a trusted proxy's, one hop deep for scheme and host, as deep as the chain
of trusted proxies for the client's address; nobody else's."""

from __future__ import annotations

import ipaddress

import pytest
from flask import Flask, jsonify, request

from idp.infrastructure.edge import ForwardedHeaders

PROXIES = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.fixture
def seen():
    app = Flask(__name__)

    @app.get("/")
    def echo():
        return jsonify(address=request.remote_addr, scheme=request.scheme, host=request.host,
                       forwarded=request.headers.get("X-Forwarded-For"))

    app.wsgi_app = ForwardedHeaders(app.wsgi_app, PROXIES)
    client = app.test_client()

    def get(peer: str, **headers) -> dict:
        return client.get("/", headers=headers, environ_base={"REMOTE_ADDR": peer}).json

    return get


def test_a_trusted_proxy_sets_scheme_host_and_address(seen):
    assert seen("127.0.0.1", **{"X-Forwarded-Proto": "https", "Host": "id.example.test",
                                "X-Forwarded-For": "198.51.100.7"}) == {
        "address": "198.51.100.7", "scheme": "https", "host": "id.example.test",
        "forwarded": "198.51.100.7"}


def test_forged_hops_left_of_the_proxy_chain_are_not_the_client(seen):
    # The client wrote "203.0.113.1"; the proxies appended the real address.
    got = seen("127.0.0.1", **{"X-Forwarded-For": "203.0.113.1, 198.51.100.7, 10.1.1.1"})
    assert got["address"] == "198.51.100.7"


def test_x_forwarded_host_and_port_of_a_trusted_proxy(seen):
    got = seen("10.2.3.4", **{"X-Forwarded-Host": "id.example.test",
                              "X-Forwarded-Proto": "https", "X-Forwarded-Port": "8443"})
    assert got["host"] == "id.example.test:8443" and got["scheme"] == "https"


def test_an_untrusted_peer_forges_nothing(seen):
    got = seen("198.51.100.7", **{"X-Forwarded-Proto": "https", "Host": "id.example.test",
                                  "X-Forwarded-Host": "evil.example",
                                  "X-Forwarded-For": "10.0.0.1"})
    assert got == {"address": "198.51.100.7", "scheme": "http", "host": "id.example.test",
                   "forwarded": None}


def test_no_trusted_proxies_means_nobody_is_believed():
    app = Flask(__name__)
    app.get("/")(lambda: jsonify(address=request.remote_addr, scheme=request.scheme))
    app.wsgi_app = ForwardedHeaders(app.wsgi_app, ())
    got = app.test_client().get("/", headers={"X-Forwarded-For": "198.51.100.7",
                                              "X-Forwarded-Proto": "https"},
                                environ_base={"REMOTE_ADDR": "127.0.0.1"}).json
    assert got == {"address": "127.0.0.1", "scheme": "http"}


@pytest.mark.parametrize("proto", ["javascript", "ftp", "https\\x", ""])
def test_a_proto_that_is_not_http_or_https_is_ignored(seen, proto):
    assert seen("127.0.0.1", **{"X-Forwarded-Proto": proto})["scheme"] == "http"


def test_garbage_in_the_forwarded_address_falls_back_to_the_peer(seen):
    assert seen("127.0.0.1", **{"X-Forwarded-For": "not-an-address"})["address"] == "127.0.0.1"
