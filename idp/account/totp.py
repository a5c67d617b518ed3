"""The second factor: time-based one-time passwords (RFC 6238) and their
recovery codes.

**The secret at rest.** ``Person.totp_secret`` holds the 160-bit shared
secret (RFC 4226 §4: at least 128 bits, 160 recommended) sealed with
AES-256-GCM under a key derived from the application's ``SECRET_KEY`` by
HKDF-SHA256 (its own ``info``, so the key serves nothing else). The person's
id is the associated data: a blob copied into another person's row does not
open. A copy of the database alone opens no secret.

**No code twice** (RFC 6238 §5.2). The sealed blob also carries the last
time step that was accepted; a code is accepted for the steps now-1, now and
now+1 (30 s each: ±1 step for clocks and typing), and only for a step after
the last one accepted, so the same code, or an older one, never works twice.
Verifying locks the person's row (``SELECT ... FOR UPDATE``; on SQLite the
caller's ``BEGIN IMMEDIATE``), so two requests with one code have one winner.

**Recovery codes.** Ten, random (10 characters of an alphabet without look-
alikes, about 50 bits each), shown once, stored as HMAC-SHA256 hex digests
keyed by another key derived from ``SECRET_KEY`` (a SHA-256 in the brief's
words, keyed so that a copy of the database alone cannot test guesses, as
for client secrets), each usable once (a conditional ``UPDATE``: one winner).

**Enrolling.** A candidate secret waits in the signed Flask session, sealed
the same way (bound to the person), for at most 15 minutes; the database
holds a secret only once a right code has been typed with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app, session
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from claims.vocabulary import Role
from idp.account.models import RecoveryCode
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import Directory

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i, l, o, 0, 1
RECOVERY_LENGTH = 10
CANDIDATE = "second_factor_candidate"  # key in the signed Flask session
CANDIDATE_SECONDS = 15 * 60
MAX_TYPED = 64  # characters; longer input is refused without work

# Audit actions (strings: the directory's enumeration is not ours to extend).
ENABLED = "person.second_factor_enabled"
DISABLED = "person.second_factor_disabled"
RECOVERY_CODES_RENEWED = "person.recovery_codes_renewed"
RECOVERY_CODE_USED = "person.recovery_code_used"

# Sign-in methods for the ID token's amr (RFC 8176 §2).
AMR_PASSWORD = "pwd"
AMR_OTP = "otp"  # a code of the app or a recovery code: both are one-time passwords


class SecretUnreadable(Exception):
    """A sealed secret that does not open with this key for this person
    (the secret key changed, or the blob was tampered with or moved)."""


# -- the keys -------------------------------------------------------------------


def _derive(app: Flask, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"keyholder second factor: " + purpose).derive(
        app.config["SECRET_KEY"].encode())


def _sealing_key(app: Flask) -> bytes:
    return _derive(app, b"totp secrets v1")


def _recovery_key(app: Flask) -> bytes:
    return _derive(app, b"recovery codes v1")


# -- sealing --------------------------------------------------------------------

_PREFIX = "v1."


def seal(app: Flask, bound_to: str, secret: str, last_step: int) -> str:
    """``secret`` and the last accepted step, encrypted and bound to ``bound_to``."""
    nonce = secrets.token_bytes(12)
    plain = f"{secret}:{last_step}".encode("ascii")
    sealed = AESGCM(_sealing_key(app)).encrypt(nonce, plain, bound_to.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def unseal(app: Flask, bound_to: str, blob: str) -> tuple[str, int]:
    """The secret and the last accepted step of a sealed blob."""
    if not isinstance(blob, str) or not blob.startswith(_PREFIX):
        raise SecretUnreadable("not a sealed secret")
    try:
        raw = base64.urlsafe_b64decode(blob[len(_PREFIX):] + "=" * (-len(blob) % 4))
        plain = AESGCM(_sealing_key(app)).decrypt(raw[:12], raw[12:], bound_to.encode())
        secret, last_step = plain.decode("ascii").split(":")
        return secret, int(last_step)
    except (InvalidTag, ValueError) as error:
        raise SecretUnreadable("the sealed secret does not open") from error


# -- secrets, codes, the QR code ----------------------------------------------------


def new_secret() -> str:
    """160 random bits in base32 (32 characters), as authenticator apps take them."""
    return pyotp.random_base32(32)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def issuer_name() -> str:
    """What authenticator apps show above the code: the operator's name
    (``KEYHOLDER_OPERATOR_NAME``), the name people know us by."""
    return current_app.config["KEYHOLDER"].OPERATOR_NAME


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI of the QR code: our name and the person's e-mail."""
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer_name())


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as inline SVG (no script, no style: the page's
    Content-Security-Policy holds)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", svgclass="qr-code", lineclass=None,
        title=_("QR code for your authenticator app"))
    return Markup(svg.replace("<svg ", '<svg role="img" aria-labelledby="qr-help" ', 1))  # noqa: S704 - segno's own SVG, no user input in markup


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def _typed(code: object) -> str | None:
    """What was typed, without spaces and dashes, lower case; None when it
    cannot be a code at all."""
    if not isinstance(code, str) or len(code) > MAX_TYPED:
        return None
    cleaned = "".join(code.split()).replace("-", "").lower()
    return cleaned if cleaned.isascii() and cleaned.isalnum() else None


def _is_app_code(cleaned: str) -> bool:
    return len(cleaned) == DIGITS and cleaned.isdigit()


def matching_step(secret: str, code: object, *, after: int = -1,
                  now: float | None = None) -> int | None:
    """The step (within ±WINDOW of now, after ``after``) whose code is
    ``code``; None when none is."""
    cleaned = _typed(code)
    if cleaned is None or not _is_app_code(cleaned):
        return None
    totp, step = _totp(secret), current_step(now)
    # Every step of the window is compared, whichever matches: the time taken
    # says nothing about which one did.
    matches = [candidate for candidate in range(step - WINDOW, step + WINDOW + 1)
               if hmac.compare_digest(totp.generate_otp(candidate), cleaned)]
    return next((candidate for candidate in matches if candidate > after), None)


# -- who needs what -------------------------------------------------------------------


def enrolled(person: Person) -> bool:
    return person.totp_secret is not None


def requiring_customers(db: Session, person: Person) -> list[Customer]:
    """The customers of which ``person`` is an administrator and which require
    a second factor of their administrators."""
    return list(db.scalars(
        select(Customer).join(Membership, Membership.customer_id == Customer.id)
        .where(Membership.person_id == person.id, Membership.role == Role.ADMINISTRATOR,
               Customer.second_factor_required.is_(True))
        .order_by(Customer.number)).all())


def needed(db: Session, person: Person) -> str | None:
    """What a sign-in of ``person`` needs after the password: "code" (the
    person has a second factor), "enrol" (an administrator of a customer that
    requires one, who has none yet) or None."""
    if enrolled(person):
        return "code"
    if requiring_customers(db, person):
        return "enrol"
    return None


# -- the candidate secret of an enrolment ----------------------------------------------


def candidate(person: Person, *, renew: bool = False) -> str:
    """The secret being enrolled by ``person`` in this browser: the one shown
    before, or a new one (``renew``, none, someone else's or too old)."""
    app = current_app._get_current_object()
    kept = session.get(CANDIDATE)
    if not renew and isinstance(kept, dict) and kept.get("person") == person.id \
            and isinstance(kept.get("at"), int) and 0 <= time.time() - kept["at"] \
            <= CANDIDATE_SECONDS:
        try:
            return unseal(app, "candidate:" + person.id, kept.get("blob"))[0]
        except SecretUnreadable:
            pass
    secret = new_secret()
    session[CANDIDATE] = {"person": person.id, "at": int(time.time()),
                          "blob": seal(app, "candidate:" + person.id, secret, -1)}
    return secret


def forget_candidate() -> None:
    session.pop(CANDIDATE, None)


# -- enabling, verifying, disabling -------------------------------------------------


def _locked(db: Session, person: Person) -> Person:
    """``person`` read again under a row lock, with its current columns."""
    return db.scalars(select(Person).where(Person.id == person.id).with_for_update()
                      .execution_options(populate_existing=True)).one()


def enable(db: Session, person: Person, secret: str, code: object, *, actor: str,
           during: str, now: float | None = None) -> list[str] | None:
    """Enrol ``secret`` if ``code`` is right for it: the sealed secret, ten
    recovery codes (returned, to be shown once) and the audit event. None (and
    nothing changed) when the code is not right or a second factor is already
    there. The caller's transaction writes; the caller commits."""
    person = _locked(db, person)
    if enrolled(person):
        return None
    step = matching_step(secret, code, now=now)
    if step is None:
        return None
    person.totp_secret = seal(current_app, person.id, secret, step)
    person.totp_enabled_at = utcnow()
    codes = _replace_recovery_codes(db, person)
    Directory(db).record(ENABLED, actor, person=person, during=during)
    return codes


@dataclass(frozen=True)
class Verified:
    """A right second factor: "otp" (the app's code) or "recovery" (a recovery
    code, now spent; ``recovery_left`` are left)."""

    method: str
    recovery_left: int = 0


def verify(db: Session, person: Person, code: object, *, actor: str,
           now: float | None = None) -> Verified | None:
    """Check a code of the app or a recovery code of ``person``, spending it;
    None when it is not right (or the person has no second factor). The
    caller's transaction must be a writer; the caller commits."""
    cleaned = _typed(code)
    if cleaned is None:
        return None
    person = _locked(db, person)
    if not enrolled(person):
        return None
    if _is_app_code(cleaned):
        try:
            secret, last_step = unseal(current_app, person.id, person.totp_secret)
        except SecretUnreadable:
            return None  # fail closed: only a recovery code opens now
        step = matching_step(secret, cleaned, after=last_step, now=now)
        if step is None:
            return None
        person.totp_secret = seal(current_app, person.id, secret, step)
        db.flush()
        return Verified("otp")
    if len(cleaned) != RECOVERY_LENGTH:
        return None
    spent = db.execute(update(RecoveryCode).where(
        RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None),
        RecoveryCode.code_hash == recovery_hash(person.id, cleaned)).values(used_at=utcnow()))
    if not spent.rowcount:
        return None
    left = recovery_codes_left(db, person)
    Directory(db).record(RECOVERY_CODE_USED, actor, person=person, left=left)
    return Verified("recovery", left)


def disable(db: Session, person: Person, *, actor: str, how: str) -> None:
    """Remove the second factor and its recovery codes, audited."""
    person = _locked(db, person)
    person.totp_secret = None
    person.totp_enabled_at = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    Directory(db).record(DISABLED, actor, person=person, how=how)


# -- recovery codes ---------------------------------------------------------------------


def recovery_hash(person_id: str, cleaned: str) -> str:
    message = f"{person_id}:{cleaned}".encode("ascii")
    return hmac.new(_recovery_key(current_app), message, hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))


def shown(code: str) -> str:
    """A recovery code as people see it: ``abcde-fghjk``."""
    half = RECOVERY_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def _replace_recovery_codes(db: Session, person: Person) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.add_all(RecoveryCode(person_id=person.id, code_hash=recovery_hash(person.id, code))
               for code in codes)
    db.flush()
    return [shown(code) for code in codes]


def renew_recovery_codes(db: Session, person: Person, *, actor: str) -> list[str] | None:
    """Ten new recovery codes in place of the old ones (returned, to be shown
    once), audited; None when the person has no second factor."""
    person = _locked(db, person)
    if not enrolled(person):
        return None
    codes = _replace_recovery_codes(db, person)
    Directory(db).record(RECOVERY_CODES_RENEWED, actor, person=person)
    return codes


def recovery_codes_left(db: Session, person: Person) -> int:
    return db.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None))) or 0
