"""Fixtures of the admin console's tests: the app sending its e-mail to a
real SMTP server (``mailbox``, stopped to test "SMTP down").

``app`` overrides the suite-wide one for this folder, so ``db``, ``client``
and ``runner`` follow: the provider on the parametrised database with
``SMTP_URL`` pointing at the mailbox."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.mailbox import Mailbox


@pytest.fixture
def app(make_app, database_url: str, mailbox: Mailbox) -> Flask:
    return make_app(database_url, SMTP_URL=mailbox.url)
