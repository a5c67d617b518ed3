"""Every text a person reads is translated (docs/i18n.md): each message marked
in a template or in Python has a French and a Dutch translation in the
committed catalogues, and no template holds text outside the translation
functions."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment

from idp.i18n import catalogues

ROOT = Path(__file__).resolve().parents[2]
# The demo's mailbox is a developer's tool beside the product, in English.
TEMPLATES = sorted(p for name in catalogues.PACKAGES
                   for p in (ROOT / name).rglob("templates/**/*") if p.suffix in {".html", ".txt"})
HUMAN_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "aria-description"}
WORD = re.compile(r"[^\W\d_]{2,}")


def outside_translation(source: str) -> list[str]:
    """The template's text (Jinja data) that is not inside {% trans %}."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # lexing only
    pieces, depth, expecting_name = [], 0, False
    for _, kind, value in env.lex(source):
        if kind == "whitespace":
            continue
        if kind == "block_begin":
            expecting_name = True
            continue
        if expecting_name and kind == "name":
            if value == "trans":
                depth += 1
            elif value == "endtrans":
                depth -= 1
        expecting_name = False
        if kind == "data" and depth == 0:
            pieces.append(value)
    return pieces


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"style", "script"}:
            self.skipping += 1
        self.words += [w for name, value in attrs if name in HUMAN_ATTRIBUTES and value
                       for w in WORD.findall(value)]

    def handle_endtag(self, tag):
        if tag in {"style", "script"}:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.words += WORD.findall(data)


def untranslated_words(path: Path) -> list[str]:
    pieces = outside_translation(path.read_text())
    if path.suffix == ".txt":
        return [w for piece in pieces for w in WORD.findall(piece)]
    return _words("".join(pieces))


def _words(html: str) -> list[str]:
    """The words of ``html`` a person reads (Jinja constructs already gone)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.words


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_template_has_no_text_outside_the_translation_functions(path):
    assert untranslated_words(path) == []


@pytest.mark.parametrize("package", catalogues.PACKAGES)
def test_every_message_has_a_french_and_a_dutch_translation(package):
    gaps = catalogues.missing(ROOT / package)
    assert gaps == {language: [] for language in catalogues.TRANSLATED}, \
        "run: python -m idp.i18n update, and translate what it lists"


def test_the_check_finds_text_outside_the_translation_functions():
    source = ('<p title="{{ _(\'Fine\') }}">{% trans %}Fine{% endtrans %} {{ name }}</p>'
              '<img alt="A logo"><p>Not fine</p><style>p { color: red }</style>')
    assert _words("".join(outside_translation(source))) == ["logo", "Not", "fine"]


def test_the_check_finds_a_message_without_translation(tmp_path):
    package = tmp_path / "pkg"
    (package / "templates").mkdir(parents=True)
    (package / "templates" / "page.html").write_text("{{ _('Hello there') }}")
    gaps = catalogues.missing(package)
    assert gaps == {"fr": ["Hello there"], "nl": ["Hello there"]}
