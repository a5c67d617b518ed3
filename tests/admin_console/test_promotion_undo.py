""""I did not agree — undo this" (issue 14) over HTTP on a real provider with
the demo people (Philip reads Dutch, Mary French, Thomas English), its
e-mails through a real SMTP server. Mary promotes herself at Smith ltd;
Philip follows the link in his e-mail, signs in afresh, confirms: Mary is a
user again, her tokens for Smith ltd end, everyone is told in their language,
the audit trail and a token-claims-change say so. Each refusal (the link
unknown, expired or used; the promoted person herself; another person; an
administrator no more; nothing left to undo; bad input; another site; an old
sign-in) is explained and changes nothing. Only a business customer's
self-promotion carries the link, for the setting's window. On SQLite and
PostgreSQL."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from admin_console.administration import make_member_administrator, set_role_by_operator
from admin_console.promotion import become_administrator
from claims.vocabulary import Role
from idp.account.models import AccountLink, LinkPurpose
from idp.directory.models import AuditEvent, Customer, Membership, Person, utcnow
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.login.models import SsoSession
from idp.outbox.delivery import deliver_due
from idp.security_events.models import PushDelivery
from tests.admin_console.helpers import bodies, outbox
from tests.factories import CustomerFactory, MembershipFactory
from tests.provider.agents import UserAgent, query_of
from tests.snapshots import snapshot
from tests.support.people import MARY, PHILIP, THOMAS
from tests.support.set_receiver import TOKEN_CLAIMS_CHANGE, StreamManager

SMITH_LTD = "123456789"
UNDO_LINK = re.compile(r"http://\S+/console/undo-promotion\?token=([A-Za-z0-9_-]+)")
SCOPE = "openid profile customer"


@pytest.fixture
def provider_settings(mailbox) -> dict:
    return {"SMTP_URL": mailbox.url}


def words(response) -> str:
    """The page's text with its line breaks and indentation as single spaces."""
    return " ".join(html.unescape(response.text).split())


def person_id(provider, person) -> str:
    with database.new_session(provider.app) as session:
        return session.scalar(select(Person.id).where(Person.email == person.email))


def role_of(provider, person) -> Role | None:
    with database.new_session(provider.app) as session:
        return session.scalar(select(Membership.role).join(Person).join(Customer).where(
            Person.email == person.email, Customer.number == SMITH_LTD))


def set_role(provider, person, role: Role) -> None:
    with provider.app.app_context():
        assert set_role_by_operator(provider.app, person.email, SMITH_LTD, role)


def mary_promotes_herself(provider) -> dict[str, str]:
    """Thomas is made administrator (by the operator), then Mary promotes
    herself: the undo link's secret e-mailed to each other administrator."""
    set_role(provider, THOMAS, Role.ADMINISTRATOR)
    with provider.app.app_context():
        with database.new_session(provider.app) as session:
            customer_id = session.scalar(select(Customer.id).where(Customer.number == SMITH_LTD))
        assert become_administrator(provider.app, person_id(provider, MARY), "123 456 789",
                                    address="192.0.2.1", channel="web",
                                    context_customer_id=customer_id)
    secrets = {}
    for person in (PHILIP, THOMAS):
        [*_, body] = bodies(provider.app, person.email)
        found = UNDO_LINK.search(body)
        assert found, body
        secrets[person.email] = found.group(1)
    assert not any(UNDO_LINK.search(body) for body in bodies(provider.app, MARY.email))
    return secrets


def page_of(secret: str) -> str:
    return f"/console/undo-promotion?token={secret}"


def sign_in_at(agent: UserAgent, login_page, person):
    """Post the login page (in whatever language) as ``person``; the redirect after it."""
    assert login_page.status_code == 200 and 'action="/login"' in login_page.text
    next_field = re.search(r'name="next" type="hidden" value="([^"]*)"', login_page.text)
    return agent.submit(login_page, {"email": person.email, "password": person.password,
                                     "next": html.unescape(next_field.group(1))},
                        action="/login")


def follow_link(provider, secret: str, person, agent: UserAgent | None = None):
    """Open the link, sign in afresh as ``person`` when asked to, and come back."""
    agent = agent or UserAgent(provider.url)
    first = agent.get(page_of(secret))
    if first.status_code != 302:
        return agent, first
    assert first.headers["Location"].startswith("/login?")
    back = sign_in_at(agent, agent.get(first.headers["Location"]), person)
    assert back.status_code == 303 and back.headers["Location"] == page_of(secret)
    return agent, agent.get(back.headers["Location"])


def deliver(provider, mailbox, count: int) -> list:
    """Send the outbox over SMTP: the messages the server received."""
    mailbox.clear()
    with provider.app.app_context():
        assert deliver_due(provider.app).sent == count
    return mailbox.wait_for(count)


def about_mary(messages, person):
    """The one message to ``person`` about Mary (the operator's promotion of
    Thomas was told too)."""
    [message] = [m for m in messages if m["To"].addresses[0].addr_spec == person.email
                 and (person is MARY or "Mary Jones" in m["Subject"])]
    return message


def tokens_of(rp, person) -> dict:
    """``person`` signs in to ``rp`` with the customer scope: the token response."""
    authorization = rp.authorization(scope=SCOPE)
    code = UserAgent(rp.issuer).code_for(rp, authorization, email=person.email,
                                         password=person.password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def in_english(provider):
    """Everyone reads English (the refusals' words; languages are tested above)."""
    with database.new_session(provider.app) as session:
        session.execute(update(Person).values(locale="en"))
        session.commit()


def test_philip_did_not_agree_and_undoes_it(provider, mailbox):
    cloud = provider.register("Cloud", "web")
    manager = StreamManager(provider.url, cloud.client_id, cloud.client_secret)
    stream = manager.create({}).json()["stream_id"]  # a polled stream of security events
    before = tokens_of(cloud, MARY)
    secrets = mary_promotes_herself(provider)
    # Mary's tokens now speak for an administrator.
    tokens = cloud.refresh(before["refresh_token"]).json()
    assert cloud.introspect(tokens["access_token"]).json()["role"] == "administrator"

    received = deliver(provider, mailbox, 5)  # Thomas's promotion was told too
    notice = about_mary(received, PHILIP)  # Philip reads Dutch
    assert notice["Subject"] == f"Mary Jones is beheerder geworden van klantnummer {SMITH_LTD}"
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert f"/console/undo-promotion?token={secrets[PHILIP.email]}" in text
    assert "Ik was niet akkoord — maak dit ongedaan" in text
    assert about_mary(received, MARY)["Subject"] == (  # Mary reads French
        f"Vous êtes désormais administrateur pour le numéro de client {SMITH_LTD}")
    assert about_mary(received, THOMAS)["Subject"] == (
        f"Mary Jones became an administrator of customer {SMITH_LTD}")
    # Sent: the body with the link's secret is gone from the outbox.
    assert not any(secrets[PHILIP.email] in (body or "")
                   for body in bodies(provider.app, PHILIP.email))

    # Philip is signed in already: the link asks for a fresh sign-in all the same.
    philip = UserAgent(provider.url)
    sign_in_at(philip, philip.get("/login"), PHILIP)
    asked = philip.get(page_of(secrets[PHILIP.email]))
    assert asked.status_code == 302
    assert query_of(asked.headers["Location"]) == {"next": page_of(secrets[PHILIP.email]),
                                                   "login_hint": PHILIP.email}
    philip, page = follow_link(provider, secrets[PHILIP.email], PHILIP, philip)
    assert page.status_code == 200 and 'lang="nl-BE"' in page.text
    assert "Mary Jones (mary.jones@smith-ltd.example)" in words(page)
    assert "Philip Smith, Thomas Taylor" in words(page)  # who will be told
    assert role_of(provider, MARY) is Role.ADMINISTRATOR  # opening the page changed nothing

    done = philip.submit(page, {"token": secrets[PHILIP.email]},
                         action="/console/undo-promotion")
    assert done.status_code == 200 and 'id="done"' in done.text
    assert role_of(provider, MARY) is Role.USER

    # Her tokens for Smith ltd ended; a new sign-in speaks for a user.
    assert cloud.refresh(tokens["refresh_token"]).status_code == 400
    assert cloud.introspect(tokens["access_token"]).json() == {"active": False}
    again = tokens_of(cloud, MARY)
    assert cloud.introspect(again["access_token"]).json()["role"] == "user"

    # Everyone is told, in their language.
    assert sorted(to for kind, to, _ in outbox(provider.app) if kind == "promotion.undone") \
        == sorted([MARY.email, PHILIP.email, THOMAS.email])
    received = deliver(provider, mailbox, 3)
    assert about_mary(received, MARY)["Subject"] == \
        f"Vous êtes à nouveau utilisateur du numéro de client {SMITH_LTD}"
    assert about_mary(received, PHILIP)["Subject"] == \
        f"Mary Jones is weer gebruiker van klantnummer {SMITH_LTD}"
    told = about_mary(received, THOMAS)
    assert told["Subject"] == f"Mary Jones is a user of customer {SMITH_LTD} again"
    assert "Philip Smith did not agree that Mary Jones became an administrator" in \
        told.get_body(preferencelist=("plain",)).get_content()

    # The audit trail, and the token-claims-change the demotion's audit event queued.
    philip_id, mary_id = person_id(provider, PHILIP), person_id(provider, MARY)
    with database.new_session(provider.app) as session:
        [demoted] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "membership.demoted", AuditEvent.person_id == mary_id)).all()
        [undone] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "membership.promotion_undone")).all()
        changes = [row.claims for row in session.scalars(
            select(PushDelivery).where(PushDelivery.stream_id == stream)
            .order_by(PushDelivery.id)) if TOKEN_CLAIMS_CHANGE in row.claims["events"]]
    assert (demoted.actor, demoted.details) == (f"person:{philip_id}", {"how": "undone"})
    assert (undone.actor, undone.person_id, undone.details) == (
        f"person:{philip_id}", mary_id, {"by": "Philip Smith"})
    assert [c["events"][TOKEN_CLAIMS_CHANGE]["claims"]["role"] for c in changes] == [
        "administrator", "user"]
    assert changes[-1]["txn"] == str(demoted.id)

    # Both links are spent: a second click, and Thomas's, say it is done already.
    state = snapshot(provider.app)
    for secret in secrets.values():
        spent = UserAgent(provider.url).get(page_of(secret))
        assert spent.status_code == 400 and "undone already" in words(spent)
    assert snapshot(provider.app) == state


def test_closing_self_promotion_from_the_page(provider, in_english):
    secrets = mary_promotes_herself(provider)
    thomas, page = follow_link(provider, secrets[THOMAS.email], THOMAS)
    assert "You can close self-promotion" in words(page)
    closed = thomas.submit(page, {"token": secrets[THOMAS.email]},
                           action="/console/undo-promotion/close-self-promotion")
    assert closed.status_code == 200 and "Self-promotion is now closed." in words(closed)
    with database.new_session(provider.app) as session:
        assert session.scalar(select(Customer.self_promotion_open)
                              .where(Customer.number == SMITH_LTD)) is False
        [event] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "customer.self_promotion_closed")).all()
        assert event.actor == f"person:{person_id(provider, THOMAS)}"
    assert role_of(provider, MARY) is Role.ADMINISTRATOR  # closing is not undoing
    again = thomas.get(page_of(secrets[THOMAS.email]))
    assert "Self-promotion is closed for customer number 123456789" in words(again)


def _expire(provider, secret_owner: str) -> None:
    with database.new_session(provider.app) as session:
        session.execute(update(AccountLink).where(AccountLink.email == secret_owner)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()


@pytest.mark.parametrize(("case", "status", "said"), [
    ("unknown", 400, "This link is not valid."),
    ("expired", 400, "This link has expired"),
    ("promoted herself", 403, "You cannot undo your own promotion"),
    ("someone else", 403, "You are signed in as thomas.taylor@smith-ltd.example, but this "
                          "link was sent to philip.smith@smith-ltd.example."),
    ("administrator no more", 403, "You are no longer an administrator of customer number "
                                   "123456789"),
    ("not a member", 409, "is no longer a member of customer number 123456789: there is "
                          "nothing to undo."),
    ("user again", 409, "Mary Jones is a user of customer number 123456789 again: there is "
                        "nothing to undo."),
])
def test_each_refusal_is_explained_and_changes_nothing(provider, in_english, case, status,
                                                      said):
    secrets = mary_promotes_herself(provider)
    secret, who = secrets[PHILIP.email], PHILIP
    if case == "unknown":
        secret = secret[:-4] + "AAAA"
    elif case == "expired":
        _expire(provider, PHILIP.email)
    elif case == "promoted herself":
        who = MARY
    elif case == "someone else":
        who = THOMAS
    elif case == "administrator no more":
        secret, who = secrets[THOMAS.email], THOMAS
        set_role(provider, THOMAS, Role.USER)
    elif case == "not a member":
        with database.write_session(provider.app) as session, provider.app.app_context():
            directory = Directory(session)
            customer = directory.customer(SMITH_LTD)
            directory.remove_membership(directory.membership(directory.person(MARY.email),
                                                             customer))
    elif case == "user again":
        set_role(provider, MARY, Role.USER)
    agent, page = follow_link(provider, secret, who)
    state = snapshot(provider.app)
    assert page.status_code == status and said in words(page)
    assert "Nothing was changed." in words(page)
    # The button, posted all the same (with this browser's CSRF token), changes nothing either.
    forced = agent.post("/console/undo-promotion",
                        {"token": secret, "csrf_token": agent.csrf(agent.get("/login"))})
    assert forced.status_code == status and said in words(forced)
    assert snapshot(provider.app) == state


def test_the_wrong_person_may_sign_in_as_the_right_one(provider, in_english):
    secrets = mary_promotes_herself(provider)
    agent, page = follow_link(provider, secrets[PHILIP.email], THOMAS)
    assert page.status_code == 403
    login = html.unescape(re.search(r'<a class="button" href="([^"]+)"', page.text).group(1))
    assert query_of(login) == {"next": page_of(secrets[PHILIP.email]),
                               "login_hint": PHILIP.email}
    back = sign_in_at(agent, agent.get(login), PHILIP)
    confirm = agent.get(back.headers["Location"])
    assert confirm.status_code == 200 and 'action="/console/undo-promotion"' in confirm.text


@pytest.mark.parametrize("case", ["nul", "overlong", "no csrf", "no token", "other site",
                                  "old sign-in"])
def test_bad_input_and_stale_forms_change_nothing(provider, in_english, case):
    secrets = mary_promotes_herself(provider)
    secret = secrets[PHILIP.email]
    agent, page = follow_link(provider, secret, PHILIP)
    assert page.status_code == 200
    csrf = agent.csrf(page)
    state = snapshot(provider.app)
    if case == "nul":
        response = agent.get(page_of(secret[:10] + "%00" + secret[10:]))
        assert response.status_code == 400
        response = agent.post("/console/undo-promotion", {"token": secret + "\x00",
                                                          "csrf_token": csrf})
        assert response.status_code == 400
    elif case == "overlong":
        assert agent.get(page_of("A" * 10_000)).status_code == 400
        response = agent.post("/console/undo-promotion", {"token": "A" * 10_000,
                                                          "csrf_token": csrf})
        assert response.status_code == 400 and "This link is not valid." in words(response)
    elif case == "no csrf":
        response = agent.post("/console/undo-promotion", {"token": secret})
        assert response.status_code == 400 and "open too long" in words(response)
    elif case == "no token":
        response = agent.post("/console/undo-promotion", {"csrf_token": csrf})
        assert response.status_code == 400 and "This link is not valid." in words(response)
    elif case == "other site":
        for path in ("/console/undo-promotion", "/console/undo-promotion/close-self-promotion"):
            response = agent.post(path, {"token": secret, "csrf_token": csrf},
                                  headers={"Origin": "https://evil.example"})
            assert response.status_code == 403 and "another site" in words(response)
    elif case == "old sign-in":
        with database.new_session(provider.app) as session:
            session.execute(update(SsoSession).values(
                auth_time=utcnow() - timedelta(minutes=11)))
            session.commit()
        state = snapshot(provider.app)
        response = agent.post("/console/undo-promotion", {"token": secret, "csrf_token": csrf})
        assert response.status_code == 303
        assert query_of(response.headers["Location"]) == {"next": page_of(secret),
                                                          "login_hint": PHILIP.email}
    assert snapshot(provider.app) == state
    assert role_of(provider, MARY) is Role.ADMINISTRATOR


# -- which promotions carry the link (the functions, on factories) --------------------


@pytest.fixture
def smith(db):
    customer = CustomerFactory(number="123456789", name="Smith ltd")
    philip = MembershipFactory(customer=customer, administrator=True,
                               person__name="Philip Smith", person__email="philip@smith.example")
    mary = MembershipFactory(customer=customer, person__name="Mary Jones",
                             person__email="mary@smith.example")
    thomas = MembershipFactory(customer=customer, person__name="Thomas Taylor",
                               person__email="thomas@smith.example")
    db.commit()
    return customer, philip, mary, thomas


def promote(app, member):
    return become_administrator(app, member.person_id, member.customer.number,
                                address="192.0.2.1", channel="web",
                                context_customer_id=member.customer_id)


def undo_links(app) -> list[tuple[str, str | None, bool]]:
    """(sent to, about whom, usable) of every undo link."""
    with database.new_session(app) as session:
        return sorted((link.email, link.subject_id, link.expires_at > utcnow())
                      for link in session.scalars(select(AccountLink).where(
                          AccountLink.purpose == LinkPurpose.PROMOTION_UNDO.value)))


def test_the_link_lasts_the_setting_and_two_self_promotions_keep_their_own(
        make_app, database_url, mailbox):
    app = make_app(database_url, SMTP_URL=mailbox.url, PROMOTION_UNDO_WINDOW=3600)
    with app.app_context():
        session = database.session()
        customer = CustomerFactory(number="123456789")
        MembershipFactory(customer=customer, administrator=True,
                          person__email="philip@smith.example")
        mary, thomas = MembershipFactory(customer=customer), MembershipFactory(customer=customer)
        session.commit()
        assert promote(app, mary)
        assert promote(app, thomas)
    with database.new_session(app) as session:
        links = session.scalars(select(AccountLink).order_by(AccountLink.id)).all()
        # Philip's link about Thomas leaves his link about Mary alone; Mary, an
        # administrator by then, gets one about Thomas too.
        assert [(link.email, link.subject_id) for link in links] == [
            ("philip@smith.example", mary.person_id), ("philip@smith.example", thomas.person_id),
            (mary.person.email, thomas.person_id)]
        assert all(link.expires_at - link.created_at == timedelta(seconds=3600)
                   and link.expires_at > utcnow() and link.used_at is None for link in links)


def test_only_a_self_promotion_carries_the_link(app, smith):
    customer, philip, mary, thomas = smith
    assert make_member_administrator(app, philip.person_id, customer.id, mary.id)
    assert undo_links(app) == []
    assert not any(UNDO_LINK.search(body) for body in bodies(app, "philip@smith.example"))
    assert promote(app, thomas)  # a self-promotion: Philip and Mary get one each
    assert undo_links(app) == sorted([("philip@smith.example", thomas.person_id, True),
                                      ("mary@smith.example", thomas.person_id, True)])


def test_a_new_promotion_withdraws_the_links_about_an_earlier_one(app, smith):
    customer, philip, mary, _ = smith
    assert promote(app, mary)
    set_role_by_operator(app, "mary@smith.example", customer.number, Role.USER)
    assert undo_links(app) == [("philip@smith.example", mary.person_id, True)]
    assert make_member_administrator(app, philip.person_id, customer.id, mary.id)
    assert undo_links(app) == [("philip@smith.example", mary.person_id, False)]


def test_a_residential_self_promotion_has_nobody_to_tell_and_no_link(app, db):
    home = CustomerFactory(residential=True, number="987654321")
    emma = MembershipFactory(customer=home)
    db.commit()
    assert promote(app, emma)
    assert undo_links(app) == []
    assert [kind for kind, _, _ in outbox(app)] == ["promotion.confirmation"]
