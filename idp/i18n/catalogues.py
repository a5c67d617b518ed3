"""The message catalogues: extracted from the code, translated in committed
``.po`` files, compiled when an app starts.

Each package that shows text (``idp``, ``admin_console``, ``services``) keeps
``translations/messages.pot`` and ``translations/<fr|nl>/LC_MESSAGES/messages.po``.
English is the source language and has no catalogue.

    python -m idp.i18n update   # after changing text: extract, merge
    python -m idp.i18n check    # what lacks a French or Dutch translation

``update`` also takes translations from ``translations/incoming/*.<fr|nl>.po``
(written while a change is under way); theirs win over the ``.po``'s.

Compiling at start-up (:func:`compiled`) means an install, an editable
checkout and a test run all read the committed ``.po`` files, with no step to
forget. The ``.mo`` files go to a cache folder named after the ``.po`` files'
contents, written atomically: processes starting at once write the same bytes."""

from __future__ import annotations

import copy
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from idp.infrastructure.cache_folder import cache_folder

TRANSLATED = ("fr", "nl")
DOMAIN = "messages"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None,
            "ngettext": (1, 2), "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("**/migrations/**", "ignore"), ("**/tests/**", "ignore"), ("**.py", "python"),
           ("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2")]
OPTIONS = {"**/templates/**.html": {"trimmed": "true"}, "**/templates/**.txt": {"trimmed": "true"}}
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("idp", "admin_console", "services")
PO_WIDTH = 100


def po_path(package: Path, language: str) -> Path:
    return package / "translations" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


# -- compiling at start-up -----------------------------------------------------

def compiled(packages: Iterable[Path]) -> list[Path]:
    """A folder of compiled catalogues for each package, for
    ``BABEL_TRANSLATION_DIRECTORIES``."""
    return [_compile(Path(package)) for package in packages]


def _compile(package: Path) -> Path:
    sources = [(language, po_path(package, language)) for language in TRANSLATED]
    sources = [(language, path.read_bytes()) for language, path in sources if path.exists()]
    fingerprint = hashlib.sha256(package.name.encode())
    for language, data in sources:
        fingerprint.update(language.encode() + b"\0" + data)
    folder = cache_folder("translations") / f"{package.name}-{fingerprint.hexdigest()[:20]}"
    for language, data in sources:
        target = folder / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if target.exists():
            continue
        catalog = read_po(io.BytesIO(data), locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(buffer.getvalue())
        os.replace(temporary, target)
    return folder


# -- extracting, merging, checking ---------------------------------------------

def extract(package: Path) -> Catalog:
    """Every message marked for translation in ``package`` (Python and templates)."""
    template = Catalog(project="Keyholder", msgid_bugs_address="", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            package, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True):
        template.add(message, None, [(f"{package.name}/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def _incoming(package: Path, language: str) -> Iterator[Catalog]:
    for path in sorted((package / "translations" / "incoming").glob(f"*.{language}.po")):
        with path.open("rb") as handle:
            yield read_po(handle, locale=language)


def merge(package: Path) -> None:
    """Write ``messages.pot`` and update each ``.po`` of ``package`` to it."""
    template = extract(package)
    folder = package / "translations"
    folder.mkdir(exist_ok=True)
    with (folder / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, template, width=PO_WIDTH, omit_header=True)
    for language in TRANSLATED:
        path = po_path(package, language)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, project="Keyholder", fuzzy=False)
        # A copy: update() adds the template's own Message objects for new
        # messages, and the first language's translations would stick to them.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        for incoming in _incoming(package, language):
            for message in incoming:
                if not message.id or not _filled(message.string):
                    continue
                mine = catalog.get(message.id, message.context)
                if mine is not None:  # the fragment is the source: it wins
                    mine.string = message.string
        catalog.obsolete.clear()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=PO_WIDTH, ignore_obsolete=True,
                     include_previous=False)


def _filled(string: str | tuple | list) -> bool:
    if isinstance(string, (tuple, list)):
        return all(part for part in string)
    return bool(string)


def missing(package: Path) -> dict[str, list[str]]:
    """For each translated language, the messages of ``package`` with no
    translation (or a fuzzy one) in its committed ``.po`` file."""
    template = extract(package)
    gaps: dict[str, list[str]] = {}
    for language in TRANSLATED:
        path = po_path(package, language)
        catalog = Catalog()
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        gaps[language] = [
            message.id if isinstance(message.id, str) else message.id[0]
            for message in template if message.id
            and ((found := catalog.get(message.id, message.context)) is None
                 or found.fuzzy or not _filled(found.string))]
    return gaps


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    packages = [ROOT / name for name in (argv[2:] or PACKAGES)]
    if command == "update":
        for package in packages:
            merge(package)
        command = "check"
    if command != "check":
        print(__doc__)
        return 2
    total = 0
    for package in packages:
        for language, ids in missing(package).items():
            total += len(ids)
            for message in ids:
                print(f"{package.name} {language}: {message!r}")
    print(f"{total} message(s) lack a translation")
    return 1 if total else 0

