"""``keyholder client add``: JSON on standard output, the secret once and only
hashed in the database; bad metadata refused in one line, nothing stored."""

import json

import pytest
from sqlalchemy import select

from idp.clients.models import Client, ClientType
from idp.infrastructure import database
from tests.snapshots import snapshot


def add(runner, *args):
    return runner.invoke(args=["client", "add", *args])


def test_web_client_gets_a_secret_once(app, runner):
    result = add(runner, "Cloud", "--type", "web", "--redirect-uri", "https://cloud.example/cb",
                 "--post-logout-redirect-uri", "https://cloud.example/bye", "--first-party")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["token_endpoint_auth_method"] == "client_secret_basic"
    assert out["redirect_uris"] == ["https://cloud.example/cb"]
    assert out["first_party"] is True and out["id_token_signed_response_alg"] == "RS256"
    assert len(out["client_secret"]) >= 43 and len(out["client_id"]) >= 22
    with database.new_session(app) as session:
        client = session.scalar(select(Client).where(Client.id == out["client_id"]))
        assert client.type is ClientType.WEB
        assert out["client_secret"] not in repr(snapshot(app))
        assert client.secret_hash and len(client.secret_hash) == 64


def test_native_client_is_public(runner):
    out = json.loads(add(runner, "App", "--type", "native", "--redirect-uri",
                         "http://127.0.0.1/callback", "--id-token-alg", "ES256").output)
    assert out["token_endpoint_auth_method"] == "none" and "client_secret" not in out
    assert out["id_token_signed_response_alg"] == "ES256"


def test_service_client_has_no_redirect(runner):
    out = json.loads(add(runner, "Usage API", "--type", "service").output)
    assert out["redirect_uris"] == [] and out["client_secret"]


@pytest.mark.parametrize(("args", "message"), [
    (["Cloud", "--type", "web"], "needs at least one --redirect-uri"),
    (["Cloud", "--type", "web", "--redirect-uri", "http://cloud.example/cb"], "https URL"),
    (["Cloud", "--type", "web", "--redirect-uri", "https://cloud.example/cb#x"], "no fragment"),
    (["Cloud", "--type", "web", "--redirect-uri", "/relative"], "https URL"),
    (["App", "--type", "native", "--redirect-uri", "http://example.com/cb"], "native"),
    (["Usage", "--type", "service", "--redirect-uri", "https://x.example/cb"], "no redirect"),
    (["Cloud", "--type", "web", "--redirect-uri", "https://c.example/cb", "--id-token-alg",
      "HS256"], "Invalid value for '--id-token-alg'"),
    (["Cloud", "--type", "portal"], "Invalid value for '--type'"),
    (["  ", "--type", "service"], "Please give a name."),
])
def test_bad_metadata_is_refused_and_nothing_is_stored(app, runner, args, message):
    before = snapshot(app)
    result = add(runner, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert len([x for x in result.output.splitlines() if x.startswith("Error")]) == 1
    assert snapshot(app) == before
