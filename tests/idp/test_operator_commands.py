"""The operator's commands of issue 13: ``person list | show | set-password |
remove`` (with ``suspend``, ``unsuspend`` and ``member remove``, kept),
``customer list``, ``client list | show | remove``. Results on SQLite and
PostgreSQL, and each refusal (NUL bytes and absurd input included) one
``Error:`` line, a non-zero exit and not one row changed."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from claims.security_event_types import CREDENTIAL_CHANGE, SESSION_REVOKED, TOKEN_CLAIMS_CHANGE
from idp.account.models import RecoveryCode
from idp.clients.models import Client
from idp.directory.models import AuditEvent, Membership, Person, PersonStatus, utcnow
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.login.models import SsoSession
from idp.outbox.models import OutboxMessage
from idp.protocol.tokens.models import RefreshToken, TokenGrant
from idp.security_events.models import DeliveryKind, EventStream, PushDelivery
from tests.snapshots import snapshot

SMITH, TAYLOR = "123456789", "987654321"


def ok(runner, *args, stdin=None):
    result = runner.invoke(args=list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def people(runner):
    """Smith ltd (business): Mary administrator, Tom user; the Taylor
    household (residential): Tom administrator, Emma user; Solo in no customer."""
    ok(runner, "customer", "add", SMITH, "--name", "Smith ltd", "--type", "business")
    ok(runner, "customer", "add", TAYLOR, "--name", "Taylor household", "--type", "residential")
    for email, name, customer, role, mobile in (
            ("mary@smith.example", "Mary Jones", SMITH, "administrator", "+32470000001"),
            ("tom@smith.example", "Tom Taylor", SMITH, "user", None),
            ("emma@taylor.example", "Emma Taylor", TAYLOR, "user", None)):
        ok(runner, "person", "add", email, "--name", name, "--customer", customer, "--role", role,
           *(["--mobile", mobile] if mobile else []), "--password-stdin", "--verified",
           stdin="a fine password\n")
    ok(runner, "member", "add", "tom@smith.example", "--customer", TAYLOR, "--role",
       "administrator")
    ok(runner, "person", "add", "solo@example.com", "--name", "Solo", "--password-stdin",
       stdin="a fine password\n")


@pytest.fixture
def cloud(runner) -> str:
    """A web client that asked for back-channel logout and has a polled stream."""
    out = ok(runner, "client", "add", "Cloud", "--type", "web", "--redirect-uri",
             "https://cloud.example/cb", "--backchannel-logout-uri",
             "https://cloud.example/logout", "--first-party", "--ssf-poll")
    return json.loads(out)["client_id"]


def sign_in(app, email: str, client_id: str, *, user_agent: str = "Firefox",
            customer: str | None = None) -> tuple[str, str]:
    """A live SSO session of ``email`` in which ``client_id`` got a token
    family with a refresh token; returns (sid, family id)."""
    with database.new_session(app) as db:
        directory = Directory(db)
        person = directory.person(email)
        now = utcnow()
        sso = SsoSession(secret_hash=secrets.token_hex(32), sid=secrets.token_urlsafe(24),
                         person=person, auth_time=now, amr=["pwd"], created_at=now,
                         expires_at=now + timedelta(hours=1), user_agent=user_agent,
                         ip_address="192.0.2.7")
        db.add(sso)
        db.flush()
        family = TokenGrant(id=secrets.token_hex(16), client_id=client_id, person_id=person.id,
                            session_id=sso.id, scope="openid customer",
                            customer_id=directory.customer(customer).id if customer else None,
                            expires_at=now + timedelta(days=1))
        db.add(family)
        db.flush()
        db.add(RefreshToken(token_hash=secrets.token_hex(32), grant_id=family.id))
        db.commit()
        return sso.sid, family.id


def rows(app, statement):
    with database.new_session(app) as db:
        return db.scalars(statement).all()


def refused(app, runner, args, stdin=None) -> str:
    before = snapshot(app)
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    assert snapshot(app) == before
    return errors[0]


# -- listing -------------------------------------------------------------------


def test_customer_list(runner, people):
    assert ok(runner, "customer", "list").splitlines() == [
        "123456789  business        2 members  Smith ltd",
        "987654321  residential     2 members  Taylor household"]


def test_lists_of_an_empty_directory(runner):
    assert ok(runner, "customer", "list") == "No customers.\n"
    assert ok(runner, "person", "list") == "No persons.\n"
    assert ok(runner, "client", "list") == "No clients.\n"


def test_person_list_by_address_with_memberships_and_status(runner, people):
    ok(runner, "person", "suspend", "emma@taylor.example")
    assert ok(runner, "person", "list").splitlines() == [
        "emma@taylor.example  Emma Taylor  suspended  987654321 user",
        "mary@smith.example  Mary Jones  active  123456789 administrator",
        "solo@example.com  Solo  active  no customer",
        "tom@smith.example  Tom Taylor  active  123456789 user, 987654321 administrator"]


def test_person_show_without_any_secret(app, runner, people, cloud):
    sign_in(app, "mary@smith.example", cloud, user_agent="Evil\x1b[2J\x1b]0;owned\x07 UA")
    with database.new_session(app) as db:
        mary = Directory(db).person("mary@smith.example")
        mary.totp_secret = "TOTPSECRETVALUEXYZ"
        mary.totp_enabled_at = utcnow()
        db.add_all([RecoveryCode(person_id=mary.id, code_hash="c" * 64),
                    RecoveryCode(person_id=mary.id, code_hash="d" * 64, used_at=utcnow())])
        db.commit()
        secrets_ = [mary.password_hash, mary.totp_secret, "c" * 64,
                    *db.scalars(select(SsoSession.secret_hash))]
        subject = mary.id
    out = ok(runner, "person", "show", "Mary@Smith.example")
    lines = out.splitlines()
    assert lines[0] == "Mary Jones <mary@smith.example>"
    assert f"  subject        {subject}" in lines
    assert "  status         active" in lines
    assert "  e-mail         verified" in lines
    assert any(line.startswith("  second factor  enrolled ") and
               line.endswith(", 1 recovery code(s) left") for line in lines)
    assert "    123456789  administrator  +32470000001      Smith ltd" in lines
    (sign_in_line,) = [line for line in lines if "192.0.2.7" in line]
    assert "  web  pwd  192.0.2.7  live until " in sign_in_line
    assert sign_in_line.endswith("Evil\\x1b[2J\\x1b]0;owned\\x07 UA")
    assert "\x1b" not in out and "\x07" not in out
    for secret in secrets_:
        assert secret not in out


def test_person_show_of_a_person_without_sign_ins(runner, people):
    out = ok(runner, "person", "show", "solo@example.com")
    assert "  second factor  not enrolled" in out.splitlines()
    assert "  memberships    none" in out.splitlines()
    assert "  last sign-ins  none" in out.splitlines()


def test_client_list_and_show(app, runner, cloud):
    service = json.loads(ok(runner, "client", "add", "Usage API", "--type", "service"))
    assert ok(runner, "client", "list").splitlines() == [
        f"{cloud}  web      first-party   1 redirect URI   stream     Cloud",
        f"{service['client_id']}  service  third-party   0 redirect URIs  no stream  Usage API"]
    out = ok(runner, "client", "show", cloud)
    shown = json.loads(out)
    assert shown["client_id"] == cloud and shown["first_party"] is True
    assert shown["redirect_uris"] == ["https://cloud.example/cb"]
    assert shown["backchannel_logout_uri"] == "https://cloud.example/logout"
    assert shown["token_endpoint_auth_method"] == "client_secret_basic"
    assert [s["delivery"] for s in shown["ssf_streams"]] == ["poll"]
    assert shown["live_token_families"] == 0
    assert "client_secret" not in shown and "secret_hash" not in out
    (secret_hash,) = rows(app, select(Client.secret_hash).where(Client.id == cloud))
    assert secret_hash not in out
    # The read-only snapshot ends with the command: the next one may write.
    ok(runner, "client", "remove", service["client_id"])


# -- suspending, kept -----------------------------------------------------------


def test_suspend_and_unsuspend_are_kept(app, runner, people, cloud):
    sign_in(app, "tom@smith.example", cloud)
    assert "1 session(s) and 1 token family(ies) ended" in ok(
        runner, "person", "suspend", "tom@smith.example")
    assert "suspended already" in ok(runner, "person", "suspend", "tom@smith.example")
    assert "Tom Taylor is suspended still" in ok(
        runner, "person", "set-password", "tom@smith.example", "--password-stdin",
        stdin="a brand new passphrase\n")
    assert ok(runner, "person", "unsuspend", "TOM@smith.example") == \
        "Tom Taylor can sign in again.\n"
    (status,) = rows(app, select(Person.status).where(Person.email == "tom@smith.example"))
    assert status is PersonStatus.ACTIVE


def test_member_remove_is_kept(app, runner, people, cloud):
    _, family = sign_in(app, "tom@smith.example", cloud, customer=SMITH)
    assert ok(runner, "member", "remove", "tom@smith.example", "--customer", SMITH) == \
        "Tom Taylor is no longer a member of 123456789.\n"
    (revoked,) = rows(app, select(TokenGrant.revoked_reason).where(TokenGrant.id == family))
    assert revoked == "membership_removed"


# -- a new password ---------------------------------------------------------------


def test_set_password_ends_everything_and_tells_the_person(app, runner, people, cloud):
    sid, family = sign_in(app, "mary@smith.example", cloud)
    out = ok(runner, "person", "set-password", "mary@smith.example", "--password-stdin",
             stdin="a brand new passphrase\n")
    assert out == ("Mary Jones has a new password: 1 session(s) and every token family "
                   "ended; an e-mail tells them.\n")
    with database.new_session(app) as db:
        mary = Directory(db).person("mary@smith.example")
        passwords = app.extensions[PASSWORDS]
        assert passwords.verify(mary.password_hash, "a brand new passphrase").ok
        assert not passwords.verify(mary.password_hash, "a fine password").ok
        assert db.scalar(select(SsoSession.ended_at).where(SsoSession.sid == sid)) is not None
        assert db.get(TokenGrant, family).revoked_at is not None
        assert db.scalar(select(AuditEvent.details).where(
            AuditEvent.action == "person.password_changed")) == {"how": "operator"}
        assert db.scalar(select(OutboxMessage.recipient).where(
            OutboxMessage.kind == "password.changed")) == "mary@smith.example"
        logout = db.scalars(select(PushDelivery).where(
            PushDelivery.kind == DeliveryKind.LOGOUT.value)).all()
        assert [row.claims["sid"] for row in logout] == [sid]
        # The Cloud's stream hears of Mary (she used it): a CAEP credential-change.
        sets = db.scalars(select(PushDelivery).where(
            PushDelivery.kind == DeliveryKind.SET.value)).all()
        changes = [row.claims["events"][CREDENTIAL_CHANGE] for row in sets
                   if CREDENTIAL_CHANGE in row.claims["events"]]
        assert [(c["credential_type"], c["change_type"], c["initiating_entity"])
                for c in changes] == [("password", "update", "admin")]


def test_set_password_generates_one_when_not_given(app, runner, people):
    out = ok(runner, "person", "set-password", "solo@example.com")
    (line,) = [x for x in out.splitlines() if x.startswith("Password (shown once): ")]
    password = line.split(": ", 1)[1]
    (stored,) = rows(app, select(Person.password_hash).where(Person.email == "solo@example.com"))
    assert app.extensions[PASSWORDS].verify(stored, password).ok


# -- removing a person ------------------------------------------------------------


def test_person_remove_ends_sessions_tells_the_services_and_deletes(app, runner, people,
                                                                     cloud):
    sid, family = sign_in(app, "tom@smith.example", cloud, customer=SMITH)
    (subject,) = rows(app, select(Person.id).where(Person.email == "tom@smith.example"))
    out = ok(runner, "person", "remove", "tom@smith.example")
    assert out.splitlines() == [
        f"Removed Tom Taylor <tom@smith.example> (subject {subject}): 1 session(s) and 1 token "
        "family(ies) ended, 2 membership(s) removed; the services are told.",
        "Customer 987654321 has no administrator now: its members may promote themselves if "
        "self-promotion is open, or run `keyholder member set-role EMAIL --customer 987654321 "
        "--role administrator`."]
    with database.new_session(app) as db:
        assert db.get(Person, subject) is None
        assert db.scalars(select(Membership).where(Membership.person_id == subject)).all() == []
        assert db.scalars(select(SsoSession).where(SsoSession.person_id == subject)).all() == []
        assert db.get(TokenGrant, family) is None
        pushes = db.scalars(select(PushDelivery).order_by(PushDelivery.id)).all()
        (logout,) = [p for p in pushes if p.kind == DeliveryKind.LOGOUT.value]
        assert (logout.client_id, logout.claims["sid"], logout.claims["sub"]) == \
            (cloud, sid, subject)
        events = [event for p in pushes if p.kind == DeliveryKind.SET.value
                  for event in p.claims["events"]]
        assert SESSION_REVOKED in events and TOKEN_CLAIMS_CHANGE in events
        audit = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        (removed,) = [e for e in audit if e.action == "person.removed"]
        assert removed.details == {"subject": subject, "customers": [SMITH, TAYLOR]}
        assert removed.actor == "operator"
        assert sorted(e.customer_id is not None for e in audit
                      if e.action == "membership.removed") == [True, True]
    # The others are left as they were.
    assert ok(runner, "customer", "list").splitlines() == [
        "123456789  business        1 member   Smith ltd",
        "987654321  residential     1 member   Taylor household"]


def test_person_remove_of_a_sole_member_warns_of_nothing(app, runner, people):
    ok(runner, "customer", "add", "555666777", "--name", "Alone ltd", "--type", "business")
    ok(runner, "member", "add", "solo@example.com", "--customer", "555666777", "--role",
       "administrator")
    out = ok(runner, "person", "remove", "solo@example.com")
    assert out.count("\n") == 1 and "1 membership(s) removed" in out


# -- removing a client ------------------------------------------------------------


def test_client_remove_revokes_and_deletes_with_its_streams(app, runner, people, cloud):
    sign_in(app, "mary@smith.example", cloud)
    ok(runner, "person", "suspend", "emma@taylor.example")  # nothing for Cloud: never used
    with database.new_session(app) as db:
        stream = db.scalar(select(EventStream.id).where(EventStream.client_id == cloud))
        db.add(PushDelivery(kind=DeliveryKind.SET.value, stream_id=stream, client_id=cloud,
                            jti=secrets.token_urlsafe(24), claims={"aud": cloud}))
        db.commit()
    out = ok(runner, "client", "remove", cloud)
    assert out.splitlines()[0] == f"Removed client {cloud} (Cloud): 1 token family(ies) revoked."
    assert "within 30 s" in out
    with database.new_session(app) as db:
        assert db.get(Client, cloud) is None
        assert db.scalars(select(EventStream).where(EventStream.client_id == cloud)).all() == []
        assert db.scalars(select(PushDelivery).where(PushDelivery.client_id == cloud)).all() == []
        assert db.scalars(select(TokenGrant).where(TokenGrant.client_id == cloud)).all() == []
        (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "client.removed"))
        assert event.details == {"client_id": cloud, "client_name": "Cloud", "type": "web",
                                 "families_revoked": 1}
    assert ok(runner, "client", "list") == "No clients.\n"


# -- refusals ---------------------------------------------------------------------

ABSURD = "x" * 100_000
REFUSALS = [
    (["person", "show", "nobody@example.com"], None, "There is no person with this e-mail"),
    (["person", "show", "mary\x00@smith.example"], None, "There is no person"),
    (["person", "show", "\udcff@smith.example"], None, "There is no person"),
    (["person", "show", ABSURD], None, "There is no person"),
    (["person", "remove", "nobody@example.com"], None, "There is no person"),
    (["person", "remove", "\x00"], None, "There is no person"),
    (["person", "remove", "mary@smith.example\udcff"], None, "There is no person"),
    (["person", "suspend", "\x00mary@smith.example"], None, "There is no person"),
    (["person", "unsuspend", ABSURD], None, "There is no person"),
    (["member", "remove", "mary\x00@smith.example", "--customer", SMITH], None,
     "There is no person"),
    (["member", "remove", "mary@smith.example", "--customer", "\x00"], None,
     "A customer number has only digits"),
    (["member", "remove", "solo@example.com", "--customer", SMITH], None,
     "Solo is not a member of 123456789."),
    (["person", "set-password", "mary@smith.example", "--password-stdin"], "short\n",
     "A password has at least 8 characters."),
    (["person", "set-password", "mary@smith.example", "--password-stdin"], "\n",
     "A password has at least 8 characters."),
    (["person", "set-password", "mary@smith.example", "--password-stdin"], "pass\x00word!!\n",
     "NUL"),
    (["person", "set-password", "mary@smith.example", "--password-stdin"], "p" * 50_000,
     "at most 1024 characters"),
    (["person", "set-password", "mary@smith.example", "--password-stdin"], "password123\n",
     "common"),
    (["person", "set-password", "nobody@example.com", "--password-stdin"], "a fine passphrase\n",
     "There is no person"),
    (["person", "set-password", "\x00", "--password-stdin"], "a fine passphrase\n",
     "There is no person"),
    (["client", "show", "no-such-client"], None, "There is no client with this id."),
    (["client", "show", "\x00"], None, "There is no client with this id."),
    (["client", "show", ABSURD], None, "There is no client with this id."),
    (["client", "remove", "é" * 20], None, "There is no client with this id."),
    (["client", "remove", ""], None, "There is no client with this id."),
    (["client", "remove", "\udcff"], None, "There is no client with this id."),
    (["customer", "list", "extra"], None, "unexpected extra argument"),
]


@pytest.mark.parametrize(("args", "stdin", "message"), REFUSALS,
                         ids=[f"{' '.join(a[:2])} #{i}" for i, (a, _, _) in enumerate(REFUSALS)])
def test_refusals_are_one_line_and_change_nothing(app, runner, people, cloud, args, stdin,
                                                   message):
    sign_in(app, "mary@smith.example", cloud, customer=SMITH)
    assert message in refused(app, runner, args, stdin)


# -- the second factor -----------------------------------------------------------

def test_reset_second_factor_removes_it_and_its_recovery_codes(app, runner, people, cloud):
    from idp.account import totp

    sign_in(app, "mary@smith.example", cloud)  # the Cloud hears of Mary

    with app.app_context(), database.write_session(app) as db:
        mary = Directory(db).person("mary@smith.example")
        mary.totp_secret = totp.seal(app, mary.id, totp.new_secret(), -1)
        mary.totp_enabled_at = utcnow()
        db.add_all(RecoveryCode(person_id=mary.id, code_hash=secrets.token_hex(32))
                   for _ in range(10))
    out = ok(runner, "person", "reset-second-factor", "MARY@smith.example")
    assert "second factor and recovery codes are removed" in out
    [mary] = rows(app, select(Person).where(Person.email == "mary@smith.example"))
    assert mary.totp_secret is None and mary.totp_enabled_at is None
    assert rows(app, select(RecoveryCode).where(RecoveryCode.person_id == mary.id)) == []
    [event] = rows(app, select(AuditEvent).where(AuditEvent.person_id == mary.id,
                                                 AuditEvent.action.like("%second_factor%")))
    assert event.actor == "operator" and event.details["how"] == "operator"
    told = [row.claims["events"][CREDENTIAL_CHANGE] for row in rows(app, select(PushDelivery))
            if CREDENTIAL_CHANGE in row.claims["events"]]
    assert [(c["credential_type"], c["change_type"]) for c in told] == [("app", "delete")]

    before = snapshot(app)  # again: nothing to remove, nothing changes
    assert "has no second factor" in ok(runner, "person", "reset-second-factor",
                                        "mary@smith.example")
    assert snapshot(app) == before


@pytest.mark.parametrize("email", ["nobody@example.com", "mary\x00@smith.example", ""])
def test_reset_second_factor_of_nobody_is_refused(app, runner, people, email):
    assert "no person" in refused(app, runner, ["person", "reset-second-factor", email])
