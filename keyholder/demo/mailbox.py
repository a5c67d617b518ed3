"""The demo's mailbox: an SMTP server (aiosmtpd) in the demo's process that
keeps every e-mail it receives, and a page to read them in the browser.

Only for the demo: it accepts mail for anybody, keeps it in memory, and
listens on loopback only."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import Flask, abort, render_template

import services
from idp.infrastructure.security_headers import add_headers, share_stylesheet

SERVICES_STATIC = str(Path(services.__file__).parent / "static")

MAX_MESSAGES = 500


@dataclass(frozen=True)
class Letter:
    number: int
    received_at: datetime
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class DemoMailbox:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._letters: list[Letter] = []
        self._controller: Controller | None = None  # its event loop exists only while started

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self._letters.append(Letter(len(self._letters) + 1, datetime.now(UTC), message))
            del self._letters[:-MAX_MESSAGES]
        return "250 Message accepted for delivery"

    @property
    def letters(self) -> list[Letter]:
        with self._lock:
            return list(reversed(self._letters))

    def start(self) -> DemoMailbox:
        if self._controller is None:
            self._controller = Controller(self, hostname=self.host, port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


def create_app(mailbox: DemoMailbox, secret_key: str) -> Flask:
    # Its own pages, in the partner services' look (their stylesheet).
    app = Flask(__name__, template_folder="templates", static_folder=SERVICES_STATIC)
    app.config["SECRET_KEY"] = secret_key

    @app.get("/")
    def inbox():
        return render_template("mailbox/inbox.html", letters=mailbox.letters,
                               smtp=f"{mailbox.host}:{mailbox.port}")

    @app.get("/<int:number>")
    def letter(number: int):
        found = next((x for x in mailbox.letters if x.number == number), None)
        if found is None:
            abort(404)
        return render_template("mailbox/letter.html", letter=found)

    app.after_request(add_headers)
    share_stylesheet(app)

    return app
