"""The settings every test app starts from (``make_app`` adds the database,
the folders and its overrides)."""

# Cheap password hashing keeps factories fast; the production parameters are
# the defaults of idp.settings and are tested there. Nothing listens on port 9
# (discard): mail sent without a test's own ``mailbox`` fails at once, and never
# reaches a demo's mailbox running on this machine.
TEST_SETTINGS = {
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "KEYS_PASSPHRASE": "test-keys-passphrase-that-is-long-enough-0123",
    "ISSUER": "http://127.0.0.1:8000",
    "SMTP_URL": "smtp://127.0.0.1:9",
    "MAIL_FROM": "Keyholder tests <no-reply@keyholder.localhost>",
    "PASSWORD_TIME_COST": 1,
    "PASSWORD_MEMORY_COST": 8,
    "PASSWORD_PARALLELISM": 1,
    # `keyholder serve` stops at SIGTERM without the readiness drain, unless a
    # test of the drain asks for it.
    "DRAIN_SECONDS": 0,
    # Tests copy a session's keys into a folder (making RSA keys is slow);
    # the database store has tests of its own (tests/idp/keys/test_table.py).
    "KEYS_STORE": "folder",
}
