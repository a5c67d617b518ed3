"""The outbox tests: ``app`` (so ``db``, ``client`` and ``runner``
follow) sends its e-mail to a real SMTP server (``mailbox``; stop it to test
"SMTP down")."""

import pytest


@pytest.fixture
def app(app_with_mailbox):
    return app_with_mailbox
