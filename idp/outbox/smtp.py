"""Talking to the SMTP server named by ``KEYHOLDER_SMTP_URL``.

URL forms (RFC 5321 submission; the user and password are URL-decoded):

- ``smtp://host[:25]`` — plain SMTP (a relay on this machine or network);
- ``smtp+starttls://host[:587]`` — STARTTLS (RFC 3207), required: never a
  silent fall-back to plain text;
- ``smtps://host[:465]`` — TLS from the first byte (RFC 8314 §3.3);
- each with optional ``user:password@`` for AUTH (RFC 4954).

Certificates are checked against the system's trust store (or the file
``SSL_CERT_FILE`` names). A password is only ever sent over TLS, or to a
server on this machine.

Every failure becomes a :class:`DeliveryFailure` whose ``reason`` is short and
free of secrets, so it can be stored in ``outbox_message.last_error`` and
logged. Nothing here logs message bodies or the password.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import quote, unquote, urlsplit

from idp.settings import is_loopback_host

# Per socket operation. On SQLite the outbox holds the database's write lock
# while a message is handed over (idp.outbox.delivery), so a server that
# stops answering must not hold it for long.
SMTP_TIMEOUT = 10.0
REASON_LENGTH = 200  # outbox_message.last_error holds 300

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class InvalidSmtpUrl(ValueError):
    """``KEYHOLDER_SMTP_URL`` cannot be used (the message never contains the password)."""


class DeliveryFailure(Exception):
    """One attempt to hand a message over failed. ``reason`` is short and safe to store.

    ``permanent`` failures are the server's final word on this message (a 5xx
    reply, or a message we cannot even compose): retrying alone will not help.
    The others (unreachable server, timeout, 4xx) heal by themselves."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectFailed(DeliveryFailure):
    """No usable session: refused, timed out, TLS or AUTH failed."""


class ConnectionLost(DeliveryFailure):
    """The session broke while a message was being handed over."""


class TemporaryRejection(DeliveryFailure):
    """A 4xx reply to this message (greylisting, mailbox busy...)."""


class PermanentRejection(DeliveryFailure):
    """A 5xx reply to this message (unknown recipient, refused sender, too large...)."""

    permanent = True


class BrokenMessage(DeliveryFailure):
    """The outbox row cannot be turned into a message (a bad address, a bug)."""

    permanent = True


@dataclass(frozen=True)
class SmtpEndpoint:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpEndpoint:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise InvalidSmtpUrl("KEYHOLDER_SMTP_URL is not a valid URL") from None
        if parts.scheme not in SCHEMES:
            raise InvalidSmtpUrl("KEYHOLDER_SMTP_URL must start with smtp://, "
                                 "smtp+starttls:// or smtps://")
        if not parts.hostname:
            raise InvalidSmtpUrl("KEYHOLDER_SMTP_URL names no host")
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            raise InvalidSmtpUrl("KEYHOLDER_SMTP_URL has no path, query or fragment")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if password is not None and not username:
            raise InvalidSmtpUrl("KEYHOLDER_SMTP_URL has a password but no user")
        if (password is not None and parts.scheme == "smtp"
                and not is_loopback_host(parts.hostname)):
            # The password would cross the network in clear text.
            raise InvalidSmtpUrl("KEYHOLDER_SMTP_URL: use smtps:// or smtp+starttls:// "
                                 "to send a password to another machine")
        return cls(parts.scheme, parts.hostname, port or SCHEMES[parts.scheme],
                   username, password)

    def scrub(self, text: str) -> str:
        """``text`` without the password (as typed or URL-encoded), shortened."""
        text = " ".join(text.split())
        if self.password:
            for secret in {self.password, quote(self.password, safe=""), quote(self.password)}:
                text = text.replace(secret, "***")
        return text[:REASON_LENGTH]


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    if (username + password).isascii():
        smtp.login(username, password)
        return
    # smtplib encodes credentials as ASCII; AUTH PLAIN carries UTF-8 (RFC 4616 §2).
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPNotSupportedError("a non-ASCII user or password needs AUTH PLAIN")
    blob = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode()
    code, reply = smtp.docmd("AUTH", "PLAIN " + blob)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class Courier:
    """One SMTP session, opened on demand and reused for a batch of messages.

    After a broken session the next :meth:`connect` opens a new one."""

    def __init__(self, endpoint: SmtpEndpoint, local_hostname: str,
                 timeout: float | None = None) -> None:
        self.endpoint = endpoint
        self.local_hostname = local_hostname
        self.timeout = SMTP_TIMEOUT if timeout is None else timeout
        self._smtp: smtplib.SMTP | None = None

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def connect(self) -> None:
        if self._smtp is not None:
            return
        point = self.endpoint
        context = ssl.create_default_context()
        try:
            if point.scheme == "smtps":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    point.host, point.port, self.local_hostname, timeout=self.timeout,
                    context=context)
            else:
                smtp = smtplib.SMTP(point.host, point.port, self.local_hostname,
                                    timeout=self.timeout)
            self._smtp = smtp
            smtp.ehlo()
            if point.scheme == "smtp+starttls":
                smtp.starttls(context=context)  # raises when not offered: no plain fall-back
                smtp.ehlo()
            if point.username:
                _login(smtp, point.username, point.password or "")
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise ConnectFailed(self._describe("cannot connect", error)) from None

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        """Hand ``message`` over for ``recipient``; raises :class:`DeliveryFailure`."""
        if self._smtp is None:
            raise ConnectionLost("not connected")
        try:
            self._smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise self._rejection(code, reply) from None
        except smtplib.SMTPResponseException as error:
            raise self._rejection(error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPNotSupportedError as error:
            # e.g. a non-ASCII address and a server without SMTPUTF8 (RFC 6531).
            raise PermanentRejection(self._describe("not supported", error)) from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise ConnectionLost(self._describe("connection lost", error)) from None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def __enter__(self) -> Courier:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _rejection(self, code: int, reply: bytes | str) -> DeliveryFailure:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        reason = self.endpoint.scrub(f"{code} {text}")
        if code == 421:  # the server is closing the session (RFC 5321 §3.8)
            self.close()
        if 500 <= code < 600:
            return PermanentRejection(reason)
        return TemporaryRejection(reason)

    def _describe(self, what: str, error: BaseException) -> str:
        if isinstance(error, smtplib.SMTPResponseException):
            detail = error.smtp_error
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            detail = f"{error.smtp_code} {detail}"
        else:
            detail = str(error) or type(error).__name__
        where = f"{self.endpoint.host}:{self.endpoint.port}"
        return self.endpoint.scrub(f"{what} ({where}): {type(error).__name__}: {detail}")
