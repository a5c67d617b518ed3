"""Password hashing with argon2id, and the password policy.

Policy (NIST SP 800-63B §5.1.1.2, OWASP ASVS V2.1): at least 8 characters,
up to 1,024 accepted, no composition rules, never truncated, and not one of
the 30,000 most common passwords (zxcvbn's list; NIST asks to check against
"passwords obtained from previous breach corpuses"). Passwords are
NFKC-normalised first, so the same password typed on two keyboards hashes
alike.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.directory.errors import InvalidPassword

MIN_LENGTH = 8
MAX_LENGTH = 1024


PASSWORDS = "keyholder.passwords"  # app.extensions[PASSWORDS]: the app's Passwords


def check_policy(password: str) -> str:
    """Return the normalised password, or raise :class:`InvalidPassword`."""
    normalised = unicodedata.normalize("NFKC", password)
    if len(normalised) < MIN_LENGTH:
        raise InvalidPassword(f"A password has at least {MIN_LENGTH} characters.")
    if len(normalised) > MAX_LENGTH:
        raise InvalidPassword(f"A password has at most {MAX_LENGTH} characters.")
    if "\x00" in normalised:
        raise InvalidPassword("A password cannot contain a NUL character.")
    if normalised.casefold() in _common_passwords():
        raise InvalidPassword("This password is one of the most common ones, which are tried "
                              "first by anyone guessing. Please choose another.")
    return normalised


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # 30,000, most common first

    return frozenset(p for p in FREQUENCY_LISTS["passwords"] if len(p) >= MIN_LENGTH)


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a password: ``ok``, and a new hash to store
    when the stored one was made with weaker parameters."""

    ok: bool
    new_hash: str | None = None


class Passwords:
    """argon2id with the parameters from the settings."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                                      parallelism=parallelism, type=Type.ID)
        # Verified against when there is no account, so that a missing account
        # costs the same time as a wrong password.
        self._dummy_hash = self._hasher.hash("keyholder-dummy-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(check_policy(password))

    def verify(self, stored_hash: str | None, password: str) -> Verification:
        """Check ``password``; pass ``None`` for an unknown account (same cost)."""
        candidate = unicodedata.normalize("NFKC", password)[: MAX_LENGTH + 1]
        try:
            self._hasher.verify(stored_hash or self._dummy_hash, candidate)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verification(False)
        if stored_hash is None:
            return Verification(False)
        if self._hasher.check_needs_rehash(stored_hash):
            return Verification(True, self._hasher.hash(candidate))
        return Verification(True)
