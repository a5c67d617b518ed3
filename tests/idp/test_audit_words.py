"""The audit trail in plain sentences (idp.directory.audit_words): names
instead of codes and ids, "you" for the viewer, "our helpdesk" for the
operator, every action the code records in English, French and Dutch, a
neutral sentence for an action nobody taught it, and the names of a page of
events read in one query. On SQLite and PostgreSQL."""

import pytest
from flask_babel import force_locale
from sqlalchemy import event

from admin_console import administration, invitations
from idp.account import security_views, totp, verification
from idp.directory import audit_words
from idp.directory.models import AuditEvent
from idp.directory.services import OPERATOR, AuditAction, person_actor
from idp.infrastructure import database
from idp.login import sessions
from tests.factories import MembershipFactory

# Every action recorded outside idp.directory.services.AuditAction.
RECORDED = [administration.SECOND_FACTOR_REQUIRED, administration.SECOND_FACTOR_OPTIONAL,
            invitations.INVITED, invitations.INVITATION_ACCEPTED,
            invitations.INVITATION_WITHDRAWN, verification.EMAIL_VERIFIED,
            verification.VERIFICATION_SENT, totp.ENABLED, totp.DISABLED,
            totp.RECOVERY_CODES_RENEWED, totp.RECOVERY_CODE_USED,
            security_views.SESSION_ENDED, security_views.CLIENT_DISCONNECTED,
            sessions.SIGNED_IN, "client.removed", "person.removed"]
ACTIONS = [a.value for a in AuditAction] + RECORDED
LOCALES = {"en": "en_BE", "fr": "fr_BE", "nl": "nl_BE"}


@pytest.fixture
def smith(db):
    """Philip Smith, administrator, and Mary Peeters, user, of one customer."""
    philip = MembershipFactory(administrator=True, person__name="Philip Smith")
    mary = MembershipFactory(customer=philip.customer, person__name="Mary Peeters")
    db.commit()
    return philip, mary


def said(db, action, actor, mary, language="en", viewer_id=None, **details) -> str:
    recorded = AuditEvent(action=action, actor=actor, customer_id=mary.customer_id,
                          person_id=mary.person_id, details=details)
    db.add(recorded)
    db.flush()
    with force_locale(LOCALES[language]):
        return audit_words.sentence(recorded, viewer_id=viewer_id)


def test_a_self_promotion_is_a_sentence_with_the_name_in_each_language(db, smith):
    _, mary = smith
    me = person_actor(mary.person)
    promoted = AuditAction.PROMOTED.value
    assert said(db, promoted, me, mary, how="self-promotion") == \
        "Mary Peeters became an administrator by self-promotion."
    assert said(db, promoted, me, mary, "fr", how="self-promotion") == \
        "Mary Peeters s'est attribué le rôle d'administrateur (auto-promotion)."
    assert said(db, promoted, me, mary, "nl", how="self-promotion") == \
        "Mary Peeters heeft zichzelf beheerder gemaakt (zelfpromotie)."
    assert said(db, promoted, me, mary, viewer_id=mary.person_id, how="self-promotion") == \
        "You became an administrator by self-promotion."


def test_the_actor_and_the_person_are_named_and_the_viewer_is_you(db, smith):
    philip, mary = smith
    by_philip = person_actor(philip.person)
    removed = AuditAction.MEMBERSHIP_REMOVED.value
    assert said(db, removed, by_philip, mary) == \
        "Philip Smith removed Mary Peeters from the customer number."
    assert said(db, removed, by_philip, mary, viewer_id=philip.person_id) == \
        "You removed Mary Peeters from the customer number."
    assert said(db, removed, by_philip, mary, "nl", viewer_id=mary.person_id) == \
        "Philip Smith heeft u uit het klantnummer verwijderd."
    assert said(db, AuditAction.PROMOTED.value, by_philip, mary, "fr",
                how="by an administrator") == \
        "Philip Smith a donné le rôle d'administrateur à Mary Peeters."


def test_the_operator_is_our_helpdesk_and_a_gone_person_a_former_member(db, smith):
    _, mary = smith
    assert said(db, AuditAction.DEMOTED.value, OPERATOR, mary, how="operator") == \
        "Our helpdesk made Mary Peeters a user."
    assert said(db, AuditAction.DEMOTED.value, OPERATOR, mary, "fr", how="operator") == \
        "Notre helpdesk a donné le rôle d'utilisateur à Mary Peeters."
    assert said(db, AuditAction.MEMBER_EXCLUDED.value, "person:nobody-by-this-id", mary) == \
        "A former member excluded Mary Peeters from administration."


def test_a_refusal_says_why_in_words(db, smith):
    _, mary = smith
    refused = AuditAction.PROMOTION_REFUSED.value
    me = person_actor(mary.person)
    assert said(db, refused, me, mary, refusal="self_promotion_closed") == \
        "Mary Peeters tried to become an administrator, which was refused " \
        "(self-promotion is closed)."
    assert said(db, refused, me, mary, "nl", refusal="wrong_number") == \
        "Mary Peeters probeerde beheerder te worden, maar dat werd geweigerd " \
        "(verkeerd klantnummer)."


def test_an_unknown_action_gets_a_neutral_sentence_never_its_code(db, smith):
    philip, mary = smith
    for language in LOCALES:
        text = said(db, "membership.teleported", person_actor(philip.person), mary, language)
        assert "teleported" not in text and "membership" not in text and "Philip Smith" in text
    assert said(db, "membership.teleported", person_actor(philip.person), mary) == \
        "Philip Smith made a change concerning Mary Peeters."


def test_every_recorded_action_has_a_sentence_of_its_own_in_french_and_dutch(db, smith):
    philip, mary = smith
    for action in ACTIONS:
        assert action in audit_words.SENTENCES, action
        texts = {language: said(db, action, person_actor(philip.person), mary, language,
                                email="jane@example.com", client_name="TV box", role="user",
                                type="business", refusal="excluded",
                                invited_by=person_actor(philip.person))
                 for language in LOCALES}
        for language, text in texts.items():
            assert action not in text and "%(" not in text, (action, language, text)
            assert text[:1].isupper() and text.endswith("."), (action, language, text)
        assert len(set(texts.values())) == 3, (action, texts)


def test_a_page_of_events_names_everybody_in_one_query(app, db, smith):
    philip, mary = smith
    actors = [person_actor(philip.person), person_actor(mary.person), OPERATOR]
    for n in range(50):
        db.add(AuditEvent(action=AuditAction.MEMBER_INCLUDED.value, actor=actors[n % 3],
                          customer_id=mary.customer_id, person_id=mary.person_id, details={}))
    db.commit()
    events = db.query(AuditEvent).order_by(AuditEvent.id).all()
    statements = []
    engine = database.engine(app)

    def count(*_):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with force_locale("nl_BE"):
            texts = audit_words.sentences(db, events, viewer_id=philip.person_id)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert "U hebt Mary Peeters opnieuw toegestaan beheerder te worden." in texts
    assert "Onze helpdesk heeft Mary Peeters opnieuw toegestaan beheerder te worden." in texts
