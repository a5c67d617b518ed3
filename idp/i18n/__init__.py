"""Pages and e-mails in English, French and Dutch (Flask-Babel), with dates in
the customer's time zone.

Every app (the provider with its console, each partner service) calls
:func:`init_app` with its own catalogues and its own way of choosing a
language; the rules they share live here:

- :data:`LANGUAGES`: what we speak, as Belgian locales (``fr_BE`` formats a
  date the Belgian way and reads the ``fr`` catalogue);
- :func:`from_ui_locales` (the OIDC ``ui_locales`` parameter, a
  space-separated list in order of preference) and :func:`from_header`
  (``Accept-Language``) turn a wish into one of them, or None;
- the ``.po`` catalogues are compiled when the app starts
  (:mod:`idp.i18n.catalogues`): nothing to run by hand.

Text in Python is marked with ``gettext`` (``_``) where it is used, or with
``lazy_gettext`` (``_l``) for a module-level constant: it is translated when
it is shown, in the language of that request or e-mail."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from babel import Locale
from flask import Flask, has_request_context
from flask_babel import Babel, get_babel, get_locale, gettext, ngettext

from idp.i18n import catalogues, formats

# language -> the locale we format with. English is the default.
LANGUAGES: dict[str, str] = {"en": "en_BE", "fr": "fr_BE", "nl": "nl_BE"}
DEFAULT = "en"
# Each language named in itself, for the switcher.
NAMES: dict[str, str] = {"en": "English", "fr": "Français", "nl": "Nederlands"}
MAX_WISH = 200  # characters of ui_locales or Accept-Language worth reading


class LazyText:
    """A text translated when it is shown, in the app and language of that
    moment. Flask-Babel's ``LazyString`` says it is safe HTML (``__html__``),
    so a name inside one would reach a page unescaped; this one is escaped
    like any other text."""

    __slots__ = ("_args", "_func", "_kwargs")

    def __init__(self, func, *args, **kwargs) -> None:
        self._func, self._args, self._kwargs = func, args, kwargs

    def __str__(self) -> str:
        return str(self._func(*self._args, **self._kwargs))

    def __repr__(self) -> str:
        return f"l'{self}'"

    def __getattr__(self, attr):  # str's methods: .format, .upper...
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(str(self), attr)

    def __len__(self) -> int:
        return len(str(self))

    def __contains__(self, item) -> bool:
        return item in str(self)

    def __add__(self, other):
        return str(self) + other

    def __radd__(self, other):
        return other + str(self)

    def __mod__(self, other):
        return str(self) % other

    def __eq__(self, other) -> bool:
        return str(self) == other

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other) -> bool:
        return str(self) < other


def lazy_gettext(string: str, **variables) -> LazyText:
    """``gettext`` when shown, in the app and language of that moment.
    (Flask-Babel's own binds the domain, and with it a translation cache, of
    the app at hand when the module is imported, and is not escaped.)"""
    return LazyText(gettext, string, **variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables) -> LazyText:
    return LazyText(ngettext, singular, plural, num, **variables)


_l = lazy_gettext


def language_of(tag: object) -> str | None:
    """``fr``, ``fr-BE``, ``FR_be``... -> ``fr``; None for a language we do not speak."""
    if not isinstance(tag, str) or not tag or len(tag) > 35:
        return None
    primary = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in LANGUAGES else None


def from_ui_locales(value: object) -> str | None:
    """The first language of an OIDC ``ui_locales`` list (Core §3.1.2.1) we speak."""
    if not isinstance(value, str) or len(value) > MAX_WISH:
        return None
    for tag in value.split():
        language = language_of(tag)
        if language:
            return language
    return None


def from_header(value: str | None) -> str | None:
    """The language of ``Accept-Language`` we speak, by the client's weights."""
    if not value or len(value) > MAX_WISH:
        return None
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    best, best_quality = None, 0.0
    for tag, quality in parse_accept_header(value, LanguageAccept):
        language = language_of(tag)
        if language and quality > best_quality:
            best, best_quality = language, quality
    return best


def locale_for(language: str | None) -> str:
    """The locale to format with for ``language`` (English when unknown)."""
    return LANGUAGES.get(language or DEFAULT, LANGUAGES[DEFAULT])


def current_language() -> str:
    """The language of the page being built (or of the e-mail being written)."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def html_lang() -> str:
    """``<html lang>``: a BCP 47 tag, ``fr-BE``."""
    locale = get_locale() or Locale.parse(locale_for(DEFAULT))
    return str(locale).replace("_", "-")


def init_app(app: Flask, *, packages: Iterable[Path], choose: Callable[[], str | None],
             time_zone: str) -> None:
    """Set up Flask-Babel on ``app`` with the catalogues of ``packages``
    (each a package folder with a ``translations`` folder); ``choose`` returns
    the language of the current request, or None for the default."""
    directories = catalogues.compiled(packages)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in directories)
    app.config["BABEL_DEFAULT_LOCALE"] = locale_for(DEFAULT)
    app.config["BABEL_DEFAULT_TIMEZONE"] = time_zone

    def selector() -> str:
        language = choose() if has_request_context() else None
        return locale_for(language)

    Babel(app, locale_selector=selector)
    # {% trans %} blocks are extracted trimmed (catalogues.OPTIONS): look them up so.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    from idp.i18n import words

    app.jinja_env.filters.update(when=formats.when, day=formats.day, phone=formats.phone,
                                 phone_kind=formats.kind, role_word=words.role,
                                 customer_type_word=words.customer_type,
                                 entitlement_word=words.entitlement)
    app.jinja_env.globals.update(html_lang=html_lang, current_language=current_language,
                                 language_names=NAMES)


def add_catalogues(app: Flask, package: Path) -> None:
    """Add the catalogues of another package (the console mounted on the
    provider) to ``app``: they are read at the first request."""
    get_babel(app).translation_directories.extend(
        str(d) for d in catalogues.compiled([package]))
