"""Fixtures of the admin console's tests: a real SMTP server, and the app sending to it.

``mailbox`` is a running :class:`tests.admin_console.mailbox.Mailbox`;
``app`` (overriding the suite-wide one for this folder, so ``db``, ``client``
and ``runner`` follow) is the provider on the parametrised database with
``SMTP_URL`` pointing at that mailbox. Stop the mailbox to test "SMTP down".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.admin_console.mailbox import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def app(make_app, database_url: str, mailbox: Mailbox) -> Flask:
    return make_app(database_url, SMTP_URL=mailbox.url)
