"""argon2id hashing, the password policy and rehashing when parameters rise."""

import pytest
from argon2 import extract_parameters

from idp.directory.errors import InvalidPassword
from idp.infrastructure.passwords import MAX_LENGTH, Passwords, check_policy
from idp.settings import load_settings

CHEAP = Passwords(time_cost=1, memory_cost=8, parallelism=1)


def test_hash_is_argon2id_with_the_configured_parameters():
    passwords = Passwords(time_cost=2, memory_cost=1024, parallelism=2)
    stored = passwords.hash("a fine password")
    assert stored.startswith("$argon2id$")
    params = extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (2, 1024, 2)


def test_production_defaults_follow_rfc9106():
    settings = load_settings({})
    assert (settings.PASSWORD_TIME_COST, settings.PASSWORD_MEMORY_COST,
            settings.PASSWORD_PARALLELISM) == (3, 65536, 4)


def test_verify_right_and_wrong():
    stored = CHEAP.hash("a fine password")
    assert CHEAP.verify(stored, "a fine password").ok
    assert not CHEAP.verify(stored, "a fine passworD").ok
    assert not CHEAP.verify(stored, "").ok


def test_unknown_account_and_broken_hash_are_refused():
    assert not CHEAP.verify(None, "keyholder-dummy-password").ok
    assert not CHEAP.verify("not a hash", "a fine password").ok


def test_no_truncation_long_passwords_are_whole():
    long = "x" * 500
    stored = CHEAP.hash(long)
    assert CHEAP.verify(stored, long).ok
    assert not CHEAP.verify(stored, long[:-1]).ok
    assert not CHEAP.verify(stored, long + "x").ok


def test_unicode_is_normalised():
    stored = CHEAP.hash("ｐａｓｓｗｏｒｄ ｆｕｌｌ")  # fullwidth, NFKC -> ASCII
    assert CHEAP.verify(stored, "password full").ok


@pytest.mark.parametrize(("password", "message"), [
    ("", "at least 8"), ("1234567", "at least 8"),
    ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"), ("abc\x00defgh", "NUL"),
])
def test_policy_refusals(password, message):
    with pytest.raises(InvalidPassword, match=message):
        check_policy(password)


@pytest.mark.parametrize("password", ["48213795", "whitewash", "a" * 64, "é" * 8, "    spaces"])
def test_no_composition_rules(password):
    """Digits only, lower case only, one letter, no letter at all: all fine
    (NIST SP 800-63B), as long as it is not among the most common."""
    assert check_policy(password)


@pytest.mark.parametrize("password", ["12345678", "password", "Password", "PASSWORD",
                                      "iloveyou", "qwertyuiop", "\uff50assword"])
def test_the_most_common_passwords_are_refused(password):
    """zxcvbn's list of the 30,000 most common, in any case, after NFKC (the
    full-width 'ｐ' is a 'p')."""
    with pytest.raises(InvalidPassword, match="most common"):
        check_policy(password)


def test_rehash_when_parameters_rise():
    old = CHEAP.hash("a fine password")
    stronger = Passwords(time_cost=2, memory_cost=16, parallelism=1)
    result = stronger.verify(old, "a fine password")
    assert result.ok and result.new_hash is not None
    assert extract_parameters(result.new_hash).time_cost == 2
    assert stronger.verify(result.new_hash, "a fine password") .ok
    assert stronger.verify(result.new_hash, "a fine password").new_hash is None
    assert stronger.verify(old, "wrong password").new_hash is None
