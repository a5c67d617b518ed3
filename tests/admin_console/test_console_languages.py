"""The console in French and Dutch on a real provider with the demo people
(Mary reads French, Philip Dutch, Thomas and Emma English:
keyholder.demo.data): pages in the signed-in person's saved language, or by
Accept-Language before anyone signs in; the shared header shows the role of
the customer the console shows; the audit trail in sentences and local time,
never a code; e-mails in their recipient's language, with the operator's
name and never the product's; an invitation to a new address in the
inviting administrator's language, and the new person's language the one of
the page he joined on. On SQLite and PostgreSQL."""

import html
import re
from datetime import UTC
from zoneinfo import ZoneInfo

from sqlalchemy import select

from admin_console import administration, invitations
from idp.directory.models import AuditEvent, Membership, Person
from idp.directory.services import AuditAction
from idp.infrastructure import database
from idp.outbox.models import OutboxMessage
from tests.admin_console.helpers import invitation_link
from tests.admin_console.test_console_pages import BY_NAME, MARY, PHILIP, THOMAS, signed_in
from tests.provider.agents import UserAgent

EMMA = BY_NAME["Emma Taylor"]
BRUSSELS = ZoneInfo("Europe/Brussels")
DUTCH_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
                "september", "oktober", "november", "december")
CODES = [a.value for a in AuditAction] + [
    administration.SECOND_FACTOR_REQUIRED, administration.SECOND_FACTOR_OPTIONAL,
    invitations.INVITED, invitations.INVITATION_ACCEPTED, invitations.INVITATION_WITHDRAWN]


def text_of(response) -> str:
    """The page as one line of text, its entities read."""
    return " ".join(html.unescape(response.text).split())


def role_badge(response) -> str:
    """The role the shared header shows (without its words for screen readers)."""
    found = re.search(r'class="role-badge">(.*?)</span>\s*$', response.text, re.M)
    assert found, "no role in the header"
    return re.sub(r"<span[^>]*>.*?</span>", "", found.group(1)).strip()


def mails_to(provider, email) -> list[OutboxMessage]:
    with database.new_session(provider.app) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == email)
                                    .order_by(OutboxMessage.id)))


def membership_id(provider, email) -> int:
    with database.new_session(provider.app) as session:
        return session.scalar(select(Membership.id).join(Person).where(Person.email == email))


def test_mary_becomes_administrator_in_french(provider):
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    assert 'lang="fr-BE"' in home.text
    assert '<dd id="role"><strong>utilisateur</strong></dd>' in home.text
    assert role_badge(home) == "utilisateur"
    assert "Plus de fonctionnalités" in text_of(home)
    assert "Keyholder" not in home.text
    form = agent.get("/console/become-administrator")
    assert "Numéro de client" in text_of(form)
    wrong = agent.submit(form, {"customer_number": "987 654 321"})
    assert wrong.status_code == 400
    assert ("Ce n'est pas le numéro de client d'un compte auquel vous appartenez. Vérifiez le "
            "numéro sur votre facture et réessayez.") in text_of(wrong)
    right = agent.submit(wrong, {"customer_number": "123 456 789"})
    assert right.status_code == 303
    done = agent.get("/console")
    assert ("Vous êtes maintenant administrateur du numéro de client 123456789. Nous avons "
            "prévenu les autres administrateurs par e-mail (Philip Smith).") in text_of(done)
    assert '<dd id="role"><strong>administrateur</strong></dd>' in done.text
    assert role_badge(done) == "administrateur"


def test_the_header_shows_the_role_of_the_customer_the_console_shows(provider):
    # Thomas is a user of Smith ltd and the administrator of his household.
    agent = signed_in(provider, THOMAS)
    assert role_badge(agent.get("/console")) == "user"
    agent.get("/console?customer=987654321")
    household = agent.get("/console")
    assert '<dd id="customer-number">987654321</dd>' in household.text
    assert role_badge(household) == "administrator"


def test_philip_reads_the_members_and_the_audit_trail_in_dutch(provider):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    page = text_of(members)
    assert 'lang="nl-BE"' in members.text and "Leden van 123456789" in page
    assert "<td>beheerder</td>" in members.text and "<td>gebruiker</td>" in members.text
    assert "0470 00 00 02" in page and "+32470000002" not in page  # Mary's own mobile
    excluded = agent.follow(agent.submit(
        members, {"membership": str(membership_id(provider, MARY.email))},
        action="/console/members/exclude"))
    assert "Mary Jones kan niet langer zelf beheerder worden." in text_of(excluded)
    closed = agent.follow(agent.submit(excluded, {"open": "0"}, action="/console/self-promotion"))
    assert "Zelfpromotie is nu gesloten." in text_of(closed)

    audit = agent.get("/console/audit")
    trail = text_of(audit)
    assert "U hebt zelfpromotie gesloten." in trail
    assert "U hebt Mary Jones uitgesloten van beheer." in trail
    assert not [code for code in CODES if code in audit.text]
    with database.new_session(provider.app) as session:
        at = session.scalar(select(AuditEvent.at).where(
            AuditEvent.action == AuditAction.SELF_PROMOTION_CLOSED.value))
    local = at.replace(tzinfo=UTC).astimezone(BRUSSELS)
    assert f"{local.day} {DUTCH_MONTHS[local.month - 1]} {local.year} om {local:%H:%M}" in trail

    # Mary is told in French, whoever excluded her.
    [told] = mails_to(provider, MARY.email)
    assert told.subject == "Administration du client 123456789"
    assert ("Philip Smith vous a retiré la possibilité d'administrer le client 123456789."
            in told.text_body)
    assert 'lang="fr-BE"' in told.html_body


def test_an_administrator_reading_dutch_is_told_in_dutch(provider):
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    told = agent.follow(agent.submit(home, {}, action="/console/tell-administrators"))
    assert ("Nous avons prévenu Philip Smith par e-mail que vous souhaitez devenir "
            "administrateur.") in text_of(told)
    [notice] = mails_to(provider, PHILIP.email)
    assert notice.subject == "Mary Jones wil beheerder worden van klant 123456789"
    assert notice.text_body.startswith("Beste Philip Smith,")
    assert ("Mary Jones (mary.jones@smith-ltd.example) laat u weten beheerder te willen worden "
            "van klant 123456789 (Smith ltd).") in notice.text_body
    assert 'lang="nl-BE"' in notice.html_body
    assert "De helpdesk van MyProximus staat voor u klaar." in " ".join(notice.html_body.split())
    assert "Keyholder" not in notice.html_body + notice.text_body + notice.subject


def test_a_new_address_is_invited_in_the_administrators_language_and_joins_in_its_own(provider):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    agent.submit(members, {"email": "jane@smith-ltd.example", "mobile": "+32 470 99 99 99"},
                 action="/console/invitations")
    agent.submit(members, {"email": EMMA.email, "mobile": ""}, action="/console/invitations")
    [invitation] = mails_to(provider, "jane@smith-ltd.example")
    assert invitation.subject == "Philip Smith nodigt u uit voor klant 123456789"
    assert "met uw eigen gsm 0470 99 99 99" in invitation.text_body
    [to_emma] = mails_to(provider, EMMA.email)  # she has a login: her own language
    assert to_emma.subject == "Philip Smith invites you to customer 123456789"

    link, _ = invitation_link(provider.app, "jane@smith-ltd.example")
    jane = UserAgent(provider.url)
    jane.http.headers["Accept-Language"] = "fr-BE,fr;q=0.9,en;q=0.5"
    page = jane.get(link)
    assert 'lang="fr-BE"' in page.text and "Rejoindre Smith ltd" in text_of(page)
    token = re.search(r'name="token" type="hidden" value="([^"]*)"', page.text).group(1)
    joined = jane.submit(page, {"token": html.unescape(token), "name": "Jane Doe",
                                "password": "a kettle of seven blue herons",
                                "again": "a kettle of seven blue herons"})
    assert joined.status_code == 200 and "Bienvenue, Jane Doe" in text_of(joined)
    with database.new_session(provider.app) as session:
        assert session.scalar(select(Person.locale).where(
            Person.email == "jane@smith-ltd.example")) == "fr"
    assert [m.subject for m in mails_to(provider, PHILIP.email)][-1] == \
        "Jane Doe is lid geworden van klant 123456789"


def test_before_signing_in_the_invitation_page_speaks_the_browsers_language(provider):
    agent = signed_in(provider, PHILIP)
    agent.submit(agent.get("/console/members"), {"email": "jan@smith-ltd.example"},
                 action="/console/invitations")
    link, _ = invitation_link(provider.app, "jan@smith-ltd.example")
    for accept, lang, words in (("nl", "nl-BE", "Lid worden van Smith ltd"),
                                ("de, en;q=0.5", "en-BE", "Join Smith ltd")):
        page = UserAgent(provider.url).get(link, headers={"Accept-Language": accept})
        assert f'lang="{lang}"' in page.text and words in text_of(page)
