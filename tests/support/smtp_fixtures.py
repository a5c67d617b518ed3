"""The ``mailbox`` fixture: a real SMTP server (aiosmtpd) for the test, as a
:class:`tests.support.mailbox.Mailbox`. Loaded for every folder by
``pytest_plugins`` in ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mailbox import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def app_with_mailbox(make_app, database_url: str, mailbox: Mailbox):
    """The provider on the parametrised database, sending its e-mail to ``mailbox``
    (a folder's conftest makes it its ``app``)."""
    return make_app(database_url, SMTP_URL=mailbox.url)
