"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, keeping what it receives.

    box = Mailbox()              # picks a free port; the port stays the same across restarts
    box.start()
    app = make_app(database_url, SMTP_URL=box.url)
    ...                          # code that sends mail
    [mail] = box.wait_for(1)     # email.message.EmailMessage, parsed with the modern policy
    assert mail["To"] == "Mary Jones <mary@example.com>"
    box.stop()                   # "SMTP down": connections are refused until start()

Knobs for failure tests, all changeable while it runs:

- ``reject(address, reply)``: answer RCPT TO for ``address`` with ``reply``
  (``"550 5.1.1 ..."`` permanent, ``"450 4.2.1 ..."`` temporary);
- ``delay``: seconds to wait before accepting each message (a slow server);
  ``wait_for_data(n)`` returns when the n-th message is being received;
- ``ack_delay``: seconds between keeping a message and answering "250": a
  client that dies meanwhile has sent it without knowing (the duplicate case);
- ``Mailbox(credentials=("user", "secret"))``: refuse mail until AUTH
  (PLAIN/LOGIN, allowed without TLS because it is loopback);
- ``Mailbox(tls_context=ctx)`` offers STARTTLS (and requires it), and with
  ``implicit_tls=True`` speaks TLS from the first byte (``smtps://``); see
  :mod:`tests.support.certificates`.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One accepted message, with its envelope and the connection it came on."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    peer: tuple[str, int]
    authenticated_as: str | None


class Mailbox:
    def __init__(self, port: int | None = None, *, credentials: tuple[str, str] | None = None,
                 tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.credentials = credentials
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.delay = 0.0
        self.ack_delay = 0.0
        self.rejections: dict[str, str] = {}
        self._received: list[Received] = []
        self._begun = 0  # messages whose DATA has started (accepted or not)
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    # -- running --------------------------------------------------------

    @property
    def url(self) -> str:
        """The ``KEYHOLDER_SMTP_URL`` for this server, without credentials."""
        scheme = ("smtps" if self.implicit_tls else "smtp+starttls") if self.tls_context \
            else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> Mailbox:
        if self._controller is not None:
            return self
        # aiosmtpd only counts STARTTLS as TLS; implicit TLS is TLS from the start.
        starttls = self.tls_context is not None and not self.implicit_tls
        options: dict = {"auth_require_tls": starttls}
        if self.credentials:
            options["authenticator"] = self._authenticate
        if starttls:
            options.update(tls_context=self.tls_context, require_starttls=True)
        # A new controller each time: a stopped one has closed its event loop.
        controller = Controller(
            _Handler(self), hostname=self.host, port=self.port,
            ssl_context=self.tls_context if self.implicit_tls else None, **options)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the listener and every open session: clients see the server go away."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # -- behaviour ------------------------------------------------------

    def reject(self, address: str, reply: str = "550 5.1.1 No such mailbox") -> None:
        self.rejections[address.lower()] = reply

    # -- what arrived ---------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._arrived:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages, once at least ``count`` have arrived; fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} messages within {timeout}s, "
                                         f"got {len(self._received)}")
                self._arrived.wait(left)
            return [r.message for r in self._received]

    def wait_for_data(self, count: int, timeout: float = 5.0) -> None:
        """Return once the ``count``-th message has started to arrive (its DATA
        began; with ``delay`` it is not accepted yet): "the client is mid-send"."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._begun >= count, timeout):
                raise AssertionError(f"expected DATA of {count} messages within {timeout}s, "
                                     f"got {self._begun}")

    def clear(self) -> None:
        with self._arrived:
            self._received.clear()

    # -- called by the handler (in the server's thread) -----------------

    def _begin(self) -> None:
        with self._arrived:
            self._begun += 1
            self._arrived.notify_all()

    def _keep(self, received: Received) -> None:
        with self._arrived:
            self._received.append(received)
            self._arrived.notify_all()

    def _authenticate(self, _server, _session, _envelope, _mechanism, auth_data) -> AuthResult:
        expected = tuple(part.encode() for part in self.credentials or ())
        ok = isinstance(auth_data, LoginPassword) and \
            (auth_data.login, auth_data.password) == expected
        # handled=False makes aiosmtpd answer "535" itself on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


class _Handler:
    """aiosmtpd's hooks (https://aiosmtpd.aio-libs.org/en/latest/handlers.html),
    named by aiosmtpd, hence the upper case."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(self, server, session, envelope, address,  # noqa: N802
                          rcpt_options):
        if self.mailbox.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        reply = self.mailbox.rejections.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.mailbox._begin()
        if self.mailbox.delay:
            await asyncio.sleep(self.mailbox.delay)
        # Lines end in "\n" once parsed, as a mail client shows them (CRLF on the wire).
        wire = envelope.original_content.replace(b"\r\n", b"\n")
        message = BytesParser(policy=policy.default).parsebytes(wire)
        login = session.auth_data.decode() if session.authenticated else None
        self.mailbox._keep(Received(envelope.mail_from, tuple(envelope.rcpt_tos), message,
                                    tuple(session.peer), login))
        if self.mailbox.ack_delay:
            await asyncio.sleep(self.mailbox.ack_delay)
        return "250 2.0.0 Accepted"
