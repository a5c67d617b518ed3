"""A real browser: Debian's Chromium driven by Playwright (never a browser
Playwright downloads). Without Chromium the browser tests skip on a laptop
and fail in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.axe import axe_source
from tests.support.databases import unavailable

CHROMIUM = os.environ.get("KEYHOLDER_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where browser tests put their screenshots: ``KEYHOLDER_TEST_SCREENSHOTS``
    (the README's pictures: ``KEYHOLDER_TEST_SCREENSHOTS=docs/screenshots``)
    or the test's own temporary folder."""
    folder = Path(os.environ.get("KEYHOLDER_TEST_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's script, installed with npm into a cache folder when missing
    (tests/support/axe.py); skips on a laptop without npm, fails in CI."""
    return axe_source()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1000, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def provider_settings(mailbox) -> dict:
    """The provider sends its e-mail to the test's SMTP server."""
    return {"SMTP_URL": mailbox.url}


# The journeys written before the demo's people had languages of their own
# (Mary reads French, Philip Dutch) read the English pages: everybody reads
# English there. These choose their languages themselves:
OWN_LANGUAGES = ("test_languages_journey", "test_accessibility")


@pytest.fixture(autouse=True)
def english_unless_the_journey_chooses(request):
    if request.module.__name__.rsplit(".", 1)[-1] in OWN_LANGUAGES \
            or "provider" not in request.fixturenames:
        return
    from tests.support.saved_languages import save_language

    save_language(request.getfixturevalue("provider").app, "en")
