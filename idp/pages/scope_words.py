"""What a client asks for, in the words of the consent page and the device
page: each scope as something a person understands ("See your mobile
number"), never its wire name ("phone").

A scope with no words here (a claims plugin's own) is shown as it is, in a
neutral sentence: the page must not guess what it means, nor hide it."""

from __future__ import annotations

from flask_babel import gettext as _

from claims.security_event_types import MANAGEMENT_SCOPE
from claims.vocabulary import CUSTOMER_SCOPE, PHONE_SCOPE
from idp.i18n import _l
from idp.protocol.scopes import OFFLINE_ACCESS, OPENID

# Each finishes "<service> would like to:".
SCOPE_WORDS = {
    OPENID: _l("Know who you are, to recognise you next time (this does not tell it your "
               "e-mail address)"),
    "profile": _l("See your name and language"),
    "email": _l("See your e-mail address"),
    PHONE_SCOPE: _l("See your mobile number"),
    CUSTOMER_SCOPE: _l("See your customer number and your role in it (administrator or user)"),
    OFFLINE_ACCESS: _l("Keep you signed in, also while you are not using it"),
    MANAGEMENT_SCOPE: _l("Be told when your sign-ins change"),
}


def scope_words(scope: str) -> str:
    """One scope in plain words, in the language of the page."""
    if scope in SCOPE_WORDS:
        return str(SCOPE_WORDS[scope])
    return _("Use the permission “%(scope)s”", scope=scope)


def scope_descriptions(scope: str) -> list[str]:
    """Every scope of ``scope`` (space-separated), in plain words, once each."""
    seen: list[str] = []
    for name in scope.split():
        if name not in seen:
            seen.append(name)
    return [scope_words(name) for name in seen]
