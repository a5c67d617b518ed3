"""axe-core (npm) in a real browser: installing it once into a cache folder,
running it on a Playwright page, and the checks every page of the
accessibility crawl shares (``<html lang>``, the language the text reads in,
the product name).

axe-core is installed with npm into ``~/.cache/keyholder-axe``
(``KEYHOLDER_TEST_AXE_CACHE``), as bench/peer.py caches node oidc-provider.
Without npm or the package the tests skip on a laptop and fail in CI.

The script is evaluated through the DevTools protocol (``page.evaluate``),
which the pages' Content-Security-Policy (no inline script) does not block;
``add_script_tag`` would be blocked, and ``bypass_csp`` would change what is
checked (inline styles the real page refuses would apply)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.databases import unavailable

AXE_VERSION = "4.14.1"  # the one place it is pinned
CACHE = Path(os.environ.get("KEYHOLDER_TEST_AXE_CACHE",
                            Path.home() / ".cache" / "keyholder-axe"))
IMPACTS = ("serious", "critical")  # what fails a page ("no serious or critical violations")
PRODUCT = re.compile(r"\bkeyholder\b", re.IGNORECASE)


def installed_version(folder: Path = CACHE) -> str | None:
    package = folder / "node_modules" / "axe-core" / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else None


def axe_source(folder: Path = CACHE) -> str:
    """axe.min.js of the pinned version, installed with npm when missing.
    xdist workers take turns (a lock file): npm must not install twice at once."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(folder) != AXE_VERSION:
            npm = shutil.which("npm")
            if npm is None:
                unavailable("npm is not installed (apt-get install npm): no axe-core")
            done = subprocess.run(
                [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                 "--loglevel", "error", f"axe-core@{AXE_VERSION}"],
                capture_output=True, text=True, timeout=300, check=False)
            if done.returncode != 0 or installed_version(folder) != AXE_VERSION:
                unavailable(f"npm could not install axe-core@{AXE_VERSION} into {folder}: "
                            f"{done.stderr.strip()[-500:]}")
    return (folder / "node_modules" / "axe-core" / "axe.min.js").read_text()


# A run that never ends (a page replaced under it) fails after RUN_SECONDS
# rather than holding the test: page.evaluate has no timeout of its own.
RUN_SECONDS = 60
RUN = """async ([impacts, seconds]) => {
  const late = new Promise((_, fail) => setTimeout(
    () => fail(new Error(`axe.run took over ${seconds} s`)), seconds * 1000));
  const result = await Promise.race([axe.run(document, {resultTypes: ['violations']}), late]);
  return result.violations.filter(v => impacts.includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html.slice(0, 200)}))}));
}"""


@dataclass(frozen=True)
class Violation:
    id: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.id} ({self.impact}): {self.help} -> {', '.join(self.targets)}"


def violations(page, source: str) -> list[Violation]:
    """The serious and critical axe violations of the page as it is now (run
    again once if the page reloaded itself meanwhile: the TV box does)."""
    from playwright.sync_api import Error as PlaywrightError  # the browser tests' own extra

    for attempt in (1, 2):
        try:
            if not page.evaluate("() => typeof window.axe === 'object'"):
                page.evaluate(source + "\n;undefined")
            found = page.evaluate(RUN, [list(IMPACTS), RUN_SECONDS])
            break
        except PlaywrightError as error:
            if attempt == 2 or "context was destroyed" not in str(error):
                raise
            page.wait_for_load_state()
    return [Violation(v["id"], v["impact"], v["help"],
                      tuple(" ".join(n["target"]) for n in v["nodes"])) for v in found]


# Small words that tell the three languages apart; no word is in two lists
# (French "de" and "en" are Dutch words too; "is" and "of" English and Dutch).
STOPWORDS = {
    "en": {"the", "and", "your", "you", "of", "for", "with", "this", "are", "not", "what",
           "will", "can", "has", "have", "was", "to", "or", "by", "an"},
    "fr": {"le", "la", "les", "des", "du", "et", "vous", "votre", "vos", "est", "pour",
           "avec", "une", "un", "pas", "sur", "ce", "cette", "qui", "que", "au", "aux", "ou"},
    "nl": {"het", "een", "uw", "u", "van", "voor", "niet", "met", "zijn", "op", "dit",
           "deze", "wordt", "kunt", "naar", "bij", "ook", "als", "maar", "wat", "zich"},
}
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def reads_as(text: str) -> str | None:
    """The language ``text`` is plainly written in, or None when too short or mixed:
    at least 6 small words, twice as many of one language as of any other."""
    words = [w.lower() for w in WORD.findall(text)]
    counts = {lang: sum(w in small for w in words) for lang, small in STOPWORDS.items()}
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
    (best, hits), (_, second) = ranked[0], ranked[1]
    return best if hits >= 6 and hits >= 2 * second else None


VISIBLE = """() => {
  const names = [...document.querySelectorAll('[alt], [aria-label], [title], [placeholder]')]
    .flatMap(e => ['alt', 'aria-label', 'title', 'placeholder'].map(a => e.getAttribute(a)))
    .filter(Boolean);
  return {lang: document.documentElement.getAttribute('lang'), title: document.title,
          text: document.body ? document.body.innerText : '', names};
}"""


@dataclass(frozen=True)
class Reading:
    """What a person is shown: the page's ``lang``, title, text and the names
    given to images and controls."""

    lang: str | None
    title: str
    text: str
    names: tuple[str, ...]

    @property
    def shown(self) -> str:
        return "\n".join((self.title, self.text, *self.names))


def read(page) -> Reading:
    found = page.evaluate(VISIBLE)
    return Reading(found["lang"], found["title"], found["text"], tuple(found["names"]))


def language_problems(reading: Reading, asked: str | None, *, text: bool = True) -> list[str]:
    """``<html lang>`` is there, is the language asked for (None: any), and
    (``text``) the text reads in it."""
    if not reading.lang:
        return ["<html> has no lang attribute"]
    primary = reading.lang.split("-")[0].lower()
    problems = []
    if asked is not None and primary != asked:
        problems.append(f'<html lang="{reading.lang}"> but the page was asked in "{asked}"')
    written = reads_as(reading.text) if text else None
    if written is not None and written != primary:
        problems.append(f'<html lang="{reading.lang}"> but its text reads as "{written}"')
    return problems


def product_name_problems(reading: Reading) -> list[str]:
    """"Keyholder" is never shown to the operator's customers."""
    lines = [line.strip() for line in reading.shown.splitlines() if PRODUCT.search(line)]
    return [f'shows "Keyholder": {line[:120]!r}' for line in dict.fromkeys(lines)]
