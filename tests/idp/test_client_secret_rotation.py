"""A client's secret rotated on one node is refused on the others within
KEYHOLDER_CLIENT_CACHE_SECONDS (issue 15: "nothing per process that
matters"): two provider apps on one database play two nodes."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from idp.clients import registry


@pytest.fixture
def nodes(make_app, database_url, keys_template, tmp_path):
    shutil.copytree(keys_template, tmp_path / "keys")  # where both apps look
    return (make_app(database_url, CLIENT_CACHE_SECONDS=1),
            make_app(database_url, CLIENT_CACHE_SECONDS=1))


def client_credentials(app, client_id: str, secret: str) -> int:
    return app.test_client().post("/token", data={"grant_type": "client_credentials"},
                                  auth=(client_id, secret)).status_code


def test_a_rotated_secret_is_refused_on_the_other_node_within_the_bound(nodes):
    one, other = nodes
    added = one.test_cli_runner().invoke(args=["client", "add", "Usage API", "--type",
                                               "service"])
    assert added.exit_code == 0, added.output
    client = json.loads(added.output)
    old = client["client_secret"]
    assert client_credentials(other, client["client_id"], old) == 200  # cached there now

    rotated = one.test_cli_runner().invoke(args=["client", "rotate-secret",
                                                 client["client_id"]])
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.output)["client_secret"]
    assert new != old
    assert client_credentials(one, client["client_id"], old) == 401  # at once where it was made
    time.sleep(1.1)  # the bound
    assert client_credentials(other, client["client_id"], old) == 401
    assert client_credentials(other, client["client_id"], new) == 200


def test_a_public_client_has_no_secret_to_rotate(nodes):
    one, _ = nodes
    added = one.test_cli_runner().invoke(args=["client", "add", "App", "--type", "native",
                                               "--redirect-uri", "http://127.0.0.1/callback"])
    client_id = json.loads(added.output)["client_id"]
    result = one.test_cli_runner().invoke(args=["client", "rotate-secret", client_id])
    assert result.exit_code == 1 and "no secret to rotate" in result.output


def test_a_client_id_never_looks_like_an_option(monkeypatch):
    """One random id in 64 would start with "-", which ``keyholder client
    rotate-secret ID`` (and every command taking an id) reads as an option."""
    drawn = iter(["-looks-like-an-option", "Zm9vYmFyYmF6cXV4"])
    monkeypatch.setattr(registry.secrets, "token_urlsafe", lambda _bytes: next(drawn))
    assert registry.new_client_id() == "Zm9vYmFyYmF6cXV4"
