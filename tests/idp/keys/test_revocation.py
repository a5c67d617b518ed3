"""Revoking a signing key that may be compromised: in the store (out of the
JWKS and of verification at once, in every store sharing the folder within
its reload interval; the active key replaced by the next one) and through
``keyholder keys revoke`` (audited, on SQLite and PostgreSQL; a refusal is
one ``Error:`` line and changes nothing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jwt as pyjwt
import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from sqlalchemy import select

from idp.directory.models import AuditEvent
from idp.infrastructure import database
from idp.keys import (
    ALGORITHMS,
    AlreadyRevoked,
    KeyState,
    KeyStore,
    KeyStoreError,
    UnknownKey,
    key_store,
)
from idp.keys.cli import COLUMNS
from tests.idp.keys.support import RETENTION, kids, open_store
from tests.idp.keys.test_store import jwks, sign, verify_with_pyjwt
from tests.snapshots import snapshot


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.glob("*.json")}


def verifies(store: KeyStore, token: str) -> bool:
    alg = pyjwt.get_unverified_header(token)["alg"]
    try:
        jwt.decode(token, store.verification_keys(), algorithms=[alg])
    except InvalidKeyIdError:
        return False
    return True


# -- the store -----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_revoking_the_active_key(store, alg):
    (active,) = kids(store, KeyState.ACTIVE, alg)
    (waiting,) = kids(store, KeyState.NEXT, alg)
    other = kids(store, KeyState.ACTIVE, "RS256" if alg == "ES256" else "ES256")
    leaked = sign(store, alg)
    assert active in jwks(store) and verifies(store, leaked)  # the JWKS cache is filled

    changed = store.revoke(active)

    # Out of the JWKS and of our own verification at once.
    assert active not in jwks(store)
    assert store.public_key(active) is None and not verifies(store, leaked)
    # The key published as next signs now, and a new next key is published.
    (fresh,) = kids(store, KeyState.NEXT, alg)
    assert kids(store, KeyState.ACTIVE, alg) == [waiting] and fresh not in (active, waiting)
    assert store.signing_key(alg).kid == waiting
    assert {waiting, fresh} <= set(jwks(store))
    assert verify_with_pyjwt(sign(store, alg), store.jwks_bytes())["sub"] == "s-1"
    assert kids(store, KeyState.ACTIVE, "RS256" if alg == "ES256" else "ES256") == other
    # What changed: the new key, the activation, the revocation (in that order of writing).
    assert sorted((k.kid, k.state) for k in changed) == sorted(
        [(waiting, KeyState.ACTIVE), (fresh, KeyState.NEXT), (active, KeyState.REVOKED)])
    (revoked,) = [k for k in store.list() if k.kid == active]
    assert revoked.state is KeyState.REVOKED and revoked.published_until is None
    assert revoked.revoked_at is not None and revoked.activated_at is not None


def test_revoking_a_retired_key_unpublishes_it_before_its_retention_ends(store):
    leaked = sign(store, "ES256")
    store.rotate("ES256")
    (retired,) = kids(store, KeyState.RETIRED, "ES256")
    assert retired in jwks(store) and verifies(store, leaked)  # published for RETENTION
    active = kids(store, KeyState.ACTIVE)
    changed = store.revoke(retired)
    assert [(k.kid, k.state) for k in changed] == [(retired, KeyState.REVOKED)]
    assert retired not in jwks(store) and not verifies(store, leaked)
    assert kids(store, KeyState.ACTIVE) == active  # nothing else moved


def test_revoking_the_next_key_publishes_a_new_one(store):
    active, (waiting,) = kids(store, KeyState.ACTIVE), kids(store, KeyState.NEXT, "RS256")
    store.revoke(waiting)
    (fresh,) = kids(store, KeyState.NEXT, "RS256")
    assert fresh != waiting and fresh in jwks(store) and waiting not in jwks(store)
    assert kids(store, KeyState.ACTIVE) == active


def test_a_store_sharing_the_folder_drops_the_key_within_its_reload_interval(store, folder,
                                                                             clock):
    other = open_store(folder, clock, reload_interval=1.0)  # another process, in effect
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    leaked = sign(store, "ES256")
    assert active in jwks(other) and verifies(other, leaked)  # its caches are filled
    store.revoke(active)
    clock.advance(1.0)
    assert active not in jwks(other) and not verifies(other, leaked)
    assert other.public_key(active) is None
    assert other.signing_key("ES256").kid == store.signing_key("ES256").kid != active


def test_the_revoked_state_is_on_disk_without_the_private_key(store, folder, clock):
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    store.revoke(active)
    data = json.loads((folder / f"{active}.json").read_text())
    assert data["state"] == "revoked" and data["private_key"] is None
    assert data["revoked_at"] is not None
    reread = open_store(folder, clock)
    assert [k for k in reread.list() if k.kid == active] == [k for k in store.list()
                                                            if k.kid == active]
    assert active not in jwks(reread)


def test_a_revoked_key_is_kept_for_the_record_then_deleted(store, clock):
    (active,) = kids(store, KeyState.ACTIVE, "RS256")
    store.revoke(active)
    clock.advance(RETENTION - 1)
    store.rotate("ES256")
    assert kids(store, KeyState.REVOKED) == [active]
    clock.advance(1)
    store.rotate("ES256")
    assert kids(store, KeyState.REVOKED) == []
    with pytest.raises(UnknownKey):
        store.revoke(active)


def test_revoking_an_unknown_or_revoked_key_changes_nothing(store, folder):
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    store.revoke(active)
    before, listed = folder_bytes(folder), store.list()
    with pytest.raises(AlreadyRevoked, match=rf"signing key {active} is already revoked "
                                             r"\(at .*Z\)"):
        store.revoke(active)
    with pytest.raises(AlreadyRevoked):  # nor can it be retired: it would be published
        store.retire(active)
    with pytest.raises(UnknownKey, match="no signing key with kid 'nope'"):
        store.revoke("nope")
    assert folder_bytes(folder) == before and store.list() == listed


def test_a_key_file_from_before_revocation_existed_is_read(store, folder, clock):
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text())
        del data["revoked_at"]
        path.write_text(json.dumps(data))
    assert open_store(folder, clock).list() == store.list()


@pytest.mark.parametrize(("change", "reason"), [
    ({"revoked_at": None}, "revoked_at must be set on a revoked key and only there"),
    ({"private_key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"},
     "a revoked key must have no private key"),
])
def test_a_damaged_revoked_key_file_is_refused(store, folder, clock, change, reason):
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    store.revoke(active)
    path = folder / f"{active}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(KeyStoreError, match=re.escape(f"corrupt key file {path}: {reason}")):
        open_store(folder, clock).list()


def test_revoked_at_on_a_key_that_is_not_revoked_is_refused(store, folder, clock):
    (waiting,) = kids(store, KeyState.NEXT, "ES256")
    path = folder / f"{waiting}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()),
                                "revoked_at": "2027-01-15T08:00:00+00:00"}))
    with pytest.raises(KeyStoreError, match="revoked_at must be set on a revoked key"):
        open_store(folder, clock).list()


# -- keyholder keys revoke -------------------------------------------------------------------


@pytest.fixture
def cli_app(make_app, database_url):
    made = make_app(database_url)
    key_store(made).ensure()
    return made


def revoked_events(app) -> list[AuditEvent]:
    with app.app_context():
        return database.session().scalars(
            select(AuditEvent).where(AuditEvent.action == "key.revoked")).all()


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_revoke_the_active_key_is_audited_and_listed(cli_app):
    store = key_store(cli_app)
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    (waiting,) = kids(store, KeyState.NEXT, "ES256")
    result = cli_app.test_cli_runner().invoke(args=["keys", "revoke", active])
    assert result.exit_code == 0, result.output
    (fresh,) = kids(store, KeyState.NEXT, "ES256")
    assert result.output.splitlines() == [
        f"ES256 key {waiting} is now active", f"ES256 key {fresh} is now next",
        f"ES256 key {active} is now revoked",
        "Relying parties drop it when they next fetch the JWKS (the claims toolkit within 300 s)."]
    (event,) = revoked_events(cli_app)
    assert event.actor == "operator" and event.customer_id is None and event.person_id is None
    assert event.details == {"kid": active, "alg": "ES256", "replaced_by": waiting}

    listed = cli_app.test_cli_runner().invoke(args=["keys", "list"]).output
    header, *rows = listed.splitlines()
    assert re.split(" {2,}", header) == list(COLUMNS)
    (row,) = [r for r in rows if r.startswith(active)]
    (info,) = [k for k in store.list() if k.kid == active]
    cells = row.split()
    assert cells[2] == "revoked" and cells[-1] == "-"  # published until: never again
    assert f"{info.revoked_at:%Y-%m-%d %H:%M:%S}Z" in row


def test_revoke_a_retired_key_is_audited_without_a_replacement(cli_app):
    store = key_store(cli_app)
    store.rotate("RS256")
    (retired,) = kids(store, KeyState.RETIRED, "RS256")
    result = cli_app.test_cli_runner().invoke(args=["keys", "revoke", retired])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"RS256 key {retired} is now revoked"
    assert len(result.output.splitlines()) == 2
    (event,) = revoked_events(cli_app)
    assert event.details == {"kid": retired, "alg": "RS256", "replaced_by": None}


@pytest.mark.parametrize("which", ["unknown", "revoked"])
def test_revoke_refusals_are_one_error_line_and_change_nothing(cli_app, which):
    store = key_store(cli_app)
    if which == "unknown":
        kid, message = "-no-such-kid", "Error: no signing key with kid '-no-such-kid'"
    else:
        (kid,) = kids(store, KeyState.ACTIVE, "RS256")
        store.revoke(kid)
        message = f"Error: signing key {kid} is already revoked (at "
    before, listed, rows = folder_bytes(store.directory), store.list(), snapshot(cli_app)
    result = cli_app.test_cli_runner().invoke(args=["keys", "revoke", kid])
    assert result.exit_code == 1
    (line,) = error_lines(result.output)
    assert line.startswith(message) and result.output == line + "\n"
    assert folder_bytes(store.directory) == before and store.list() == listed
    assert snapshot(cli_app) == rows and revoked_events(cli_app) == []


def test_the_key_is_revoked_even_when_the_audit_cannot_be_written(make_app):
    """The database is down: the revocation, the urgent part, stands; the
    operator is told that its audit event is missing."""
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:9/keyholder?connect_timeout=2")
    store = key_store(app)
    store.ensure()
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    result = app.test_cli_runner().invoke(args=["keys", "revoke", active])
    assert result.exit_code == 1
    (line,) = error_lines(result.output)
    assert line == (f"Error: signing key {active} is revoked, but the audit event could not "
                    "be written (OperationalError)")
    assert f"ES256 key {active} is now revoked" in result.output.splitlines()
    assert kids(store, KeyState.REVOKED) == [active] and active not in jwks(store)
