"""The sentences of the audit trail (:mod:`idp.directory.audit_words`
chooses and fills them), each in the forms a reader needs. The French ones
are worded so that no word depends on the person's gender, which we do not
know ("s'est attribué le rôle d'administrateur", never "est devenue")."""

from __future__ import annotations

from dataclasses import dataclass

from idp.i18n import LazyText as LazyString
from idp.i18n import _l


@dataclass(frozen=True)
class Said:
    """A sentence in the forms a viewer needs: ``they`` (the viewer is not
    in it), ``you_did`` (the viewer acted), ``to_you`` (somebody else did it
    to the viewer). Placeholders: actor, person, email, client, inviter,
    role, type, reason."""

    they: LazyString
    you_did: LazyString | None = None
    to_you: LazyString | None = None


HELPDESK = _l("our helpdesk")
SYSTEM = _l("an automatic process")
FORMER_MEMBER = _l("a former member")

# -- the customer ----------------------------------------------------------------------

CUSTOMER_ADDED = Said(_l("%(actor)s opened the customer account (%(type)s)."),
                      _l("You opened the customer account (%(type)s)."))
SELF_PROMOTION_CLOSED = Said(_l("%(actor)s closed self-promotion."),
                             _l("You closed self-promotion."))
SELF_PROMOTION_OPENED = Said(_l("%(actor)s opened self-promotion."),
                             _l("You opened self-promotion."))
SECOND_FACTOR_REQUIRED = Said(
    _l("%(actor)s required a second factor for the administrators."),
    _l("You required a second factor for the administrators."))
SECOND_FACTOR_OPTIONAL = Said(
    _l("%(actor)s stopped requiring a second factor for the administrators."),
    _l("You stopped requiring a second factor for the administrators."))

# -- members and roles -----------------------------------------------------------------

JOINED = Said(_l("%(person)s joined the customer number as %(role)s."),
              _l("You joined the customer number as %(role)s."))
MEMBER_ADDED = Said(_l("%(actor)s added %(person)s to the customer number as %(role)s."),
                    _l("You added %(person)s to the customer number as %(role)s."),
                    _l("%(actor)s added you to the customer number as %(role)s."))
SELF_PROMOTED = Said(_l("%(person)s became an administrator by self-promotion."),
                     _l("You became an administrator by self-promotion."))
HANDED_OVER_TO = Said(_l("%(actor)s handed administration over to %(person)s."),
                      _l("You handed administration over to %(person)s."),
                      _l("%(actor)s handed administration over to you."))
MADE_ADMINISTRATOR = Said(_l("%(actor)s made %(person)s an administrator."),
                          _l("You made %(person)s an administrator."),
                          _l("%(actor)s made you an administrator."))
STEPPED_DOWN = Said(_l("%(person)s stepped down as administrator."),
                    _l("You stepped down as administrator."))
HANDED_OVER = Said(_l("%(person)s handed administration over and became a user."),
                   _l("You handed administration over and became a user."))
MADE_USER = Said(_l("%(actor)s made %(person)s a user."), _l("You made %(person)s a user."),
                 _l("%(actor)s made you a user."))
PROMOTION_UNDONE = Said(_l("%(actor)s undid the self-promotion of %(person)s."),
                        _l("You undid the self-promotion of %(person)s."),
                        _l("%(actor)s undid your self-promotion."))
REFUSED = Said(_l("%(person)s tried to become an administrator, which was refused (%(reason)s)."),
               _l("You tried to become an administrator, which was refused (%(reason)s)."))
REFUSED_PLAIN = Said(_l("%(person)s tried to become an administrator, which was refused."),
                     _l("You tried to become an administrator, which was refused."))
REASONS = {
    "wrong_number": _l("wrong customer number"),
    "suspended": _l("the login is suspended"),
    "unverified": _l("the e-mail address was not confirmed yet"),
    "already_administrator": _l("already an administrator"),
    "excluded": _l("excluded from administration"),
    "self_promotion_closed": _l("self-promotion is closed"),
    "residential_has_administrator": _l("the household has an administrator already"),
    "app_channel": _l("this is done on the web site, not in the app"),
    "throttled": _l("too many wrong customer numbers"),
}
INTENT_ANNOUNCED = Said(
    _l("%(person)s told the administrators about wanting to become an administrator."),
    _l("You let the administrators know that you would like to become an administrator."))
EXCLUDED = Said(_l("%(actor)s excluded %(person)s from administration."),
                _l("You excluded %(person)s from administration."),
                _l("%(actor)s excluded you from administration."))
INCLUDED = Said(_l("%(actor)s allowed %(person)s again to become an administrator."),
                _l("You allowed %(person)s again to become an administrator."),
                _l("%(actor)s allowed you again to become an administrator."))
REMOVED = Said(_l("%(actor)s removed %(person)s from the customer number."),
               _l("You removed %(person)s from the customer number."),
               _l("%(actor)s removed you from the customer number."))
INVITED = Said(_l("%(actor)s invited %(email)s to the customer number."),
               _l("You invited %(email)s to the customer number."))
INVITATION_WITHDRAWN = Said(_l("%(actor)s withdrew the invitation of %(email)s."),
                            _l("You withdrew the invitation of %(email)s."))
INVITATION_ACCEPTED = Said(_l("%(person)s accepted the invitation of %(inviter)s."),
                           _l("You accepted the invitation of %(inviter)s."))
YOUR_INVITATION_ACCEPTED = Said(_l("%(person)s accepted your invitation."))

# -- logins ----------------------------------------------------------------------------

PERSON_ADDED = Said(_l("The login of %(person)s was created."),
                    to_you=_l("Your login was created."))
PERSON_REMOVED = Said(_l("%(actor)s removed a login."), _l("You removed a login."))
SUSPENDED = Said(_l("%(actor)s suspended the login of %(person)s."),
                 _l("You suspended the login of %(person)s."),
                 _l("%(actor)s suspended your login."))
UNSUSPENDED = Said(_l("%(actor)s reactivated the login of %(person)s."),
                   _l("You reactivated the login of %(person)s."),
                   _l("%(actor)s reactivated your login."))
PASSWORD_CHANGED = Said(_l("%(person)s changed the password."),
                        _l("You changed your password."))
PASSWORD_RESET = Said(_l("%(person)s chose a new password with a reset link."),
                      _l("You chose a new password with a reset link."))
PASSWORD_SET = Said(_l("%(actor)s set a new password for %(person)s."),
                    _l("You set a new password for %(person)s."),
                    _l("%(actor)s set a new password for you."))
EMAIL_VERIFIED = Said(_l("%(person)s confirmed the e-mail address."),
                      _l("You confirmed your e-mail address."))
VERIFICATION_SENT = Said(_l("We sent %(person)s a link to confirm the e-mail address."),
                         to_you=_l("We sent you a link to confirm your e-mail address."))
SIGNED_IN = Said(_l("%(person)s signed in."), _l("You signed in."))
SESSION_ENDED = Said(_l("%(person)s ended a sign-in."), _l("You ended a sign-in."))
CLIENT_DISCONNECTED = Said(_l("%(person)s disconnected %(client)s."),
                           _l("You disconnected %(client)s."))
SECOND_FACTOR_ENABLED = Said(_l("%(person)s set up a second factor."),
                             _l("You set up a second factor."))
SECOND_FACTOR_DISABLED = Said(_l("%(person)s removed the second factor."),
                              _l("You removed your second factor."))
SECOND_FACTOR_REMOVED = Said(_l("%(actor)s removed the second factor of %(person)s."),
                             _l("You removed the second factor of %(person)s."),
                             _l("%(actor)s removed your second factor."))
RECOVERY_CODES_RENEWED = Said(_l("%(person)s made new recovery codes."),
                              _l("You made new recovery codes."))
RECOVERY_CODE_USED = Said(_l("%(person)s signed in with a recovery code."),
                          _l("You signed in with a recovery code."))

# -- the operator's ----------------------------------------------------------------------

KEY_REVOKED = Said(_l("%(actor)s revoked a signing key."), _l("You revoked a signing key."))
CLIENT_REMOVED = Said(_l("%(actor)s removed the service %(client)s."),
                      _l("You removed the service %(client)s."))

# -- anything else: a neutral sentence, never a code ---------------------------------------

CHANGE = Said(_l("%(actor)s made a change."), _l("You made a change."))
CHANGE_FOR = Said(_l("%(actor)s made a change concerning %(person)s."),
                  _l("You made a change concerning %(person)s."),
                  _l("%(actor)s made a change concerning you."))
