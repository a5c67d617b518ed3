"""Signing keys in the database (``KEYHOLDER_KEYS_STORE=database``, issue 15):
nodes on several machines share them through the ``signing_key`` table,
private keys encrypted at rest, with the folder's states and rules; a change
on one node is seen by every node within the reload interval; ``keyholder
keys import`` moves a key folder in. On both databases."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from idp.infrastructure import database
from idp.keys import KeyState, KeyStore, KeyStoreError, key_store
from idp.keys.backends import SIGNING_KEY, Table
from tests.idp.keys.support import PASSPHRASE, RETENTION, FakeClock, kids


def node(app, clock: FakeClock, passphrase: str = PASSPHRASE) -> KeyStore:
    """A store as another node has it: its own object on the same database."""
    return KeyStore(Table(database.engine(app)), passphrase, retention_seconds=RETENTION,
                    reload_interval=1.0, clock=clock)


@pytest.fixture
def app(make_app, database_url):
    return make_app(database_url, KEYS_STORE="database")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def rows(app) -> dict[str, str]:
    with database.engine(app).connect() as connection:
        return {name: document for name, document in connection.execute(
            select(SIGNING_KEY.c.name, SIGNING_KEY.c.document))}


def test_the_app_uses_the_table_and_keeps_private_keys_encrypted(app):
    store = key_store(app)
    assert isinstance(store.backend, Table)
    created = store.ensure()
    assert {k.alg for k in created} == {"ES256", "RS256"}
    documents = rows(app)
    assert set(documents) == {f"{k.kid}.json" for k in created}
    for document in documents.values():
        assert "ENCRYPTED PRIVATE KEY" in document
        assert "BEGIN PRIVATE KEY" not in document and '"d"' not in document


def test_a_rotation_on_one_node_is_seen_by_another_within_the_reload_interval(app, clock):
    one, other = node(app, clock), node(app, clock)
    one.ensure()
    before = other.signing_key("ES256").kid
    one.rotate("ES256")
    new = kids(one, KeyState.ACTIVE, "ES256")[0]
    assert other.signing_key("ES256").kid == before  # until its next read
    clock.advance(1.0)
    assert other.signing_key("ES256").kid == new
    assert other.public_key(before) is not None  # retired: still verifies


def test_a_revocation_on_one_node_stops_verification_on_another(app, clock):
    one, other = node(app, clock), node(app, clock)
    one.ensure()
    active = kids(one, KeyState.ACTIVE, "ES256")[0]
    assert other.public_key(active) is not None
    one.revoke(active)
    clock.advance(1.0)
    assert other.public_key(active) is None
    assert active not in other.jwks_bytes().decode()
    assert other.signing_key("ES256").kid != active


def test_a_wrong_passphrase_changes_nothing(app, clock):
    node(app, clock).ensure()
    before = rows(app)
    with pytest.raises(KeyStoreError, match="PASSPHRASE"):
        node(app, clock, passphrase="another-passphrase-that-is-long-enough-000").rotate()
    assert rows(app) == before


def test_keys_import_moves_a_folder_in(app, keys_template, tmp_path):
    folder = tmp_path / "old-keys"
    shutil.copytree(keys_template, folder)
    folder_store = KeyStore(folder, PASSPHRASE, retention_seconds=RETENTION)
    expected = {(k.kid, k.state) for k in folder_store.list()}
    result = app.test_cli_runner().invoke(args=["keys", "import", str(folder)])
    assert result.exit_code == 0, result.output
    assert {(k.kid, k.state) for k in key_store(app).list()} == expected
    assert set(rows(app)) == {f"{kid}.json" for kid, _ in expected}
    # Once only: a database that has keys takes none.
    again = app.test_cli_runner().invoke(args=["keys", "import", str(folder)])
    assert again.exit_code == 1 and "already holds signing keys" in again.output


def test_keys_import_refuses_a_folder_of_another_passphrase(make_app, database_url,
                                                            keys_template, tmp_path):
    app = make_app(database_url, KEYS_STORE="database",
                   KEYS_PASSPHRASE="another-passphrase-that-is-long-enough-000")
    folder = tmp_path / "old-keys"
    shutil.copytree(keys_template, folder)
    result = app.test_cli_runner().invoke(args=["keys", "import", str(folder)])
    assert result.exit_code == 1 and "PASSPHRASE" in result.output
    assert rows(app) == {}


def test_the_default_store_follows_the_database():
    from idp.settings import load_settings

    assert load_settings({"KEYHOLDER_DATABASE_URL": "postgresql+psycopg://h/d"}).KEYS_STORE \
        == "database"
    assert load_settings({"KEYHOLDER_DATABASE_URL": "sqlite:///k.db"}).KEYS_STORE == "folder"
