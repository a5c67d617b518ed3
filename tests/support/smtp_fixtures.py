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
