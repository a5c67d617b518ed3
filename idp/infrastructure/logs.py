"""The provider's logs: plain text, or JSON lines (``KEYHOLDER_LOG_FORMAT=json``)
for a log pipeline; a request id on every line of a request; and the
security events an operator watches, as log events of their own.

**Request id.** Each request gets one: the ``X-Request-Id`` the client or
the proxy sent, when it is a short token (letters, digits, ``-_.:``, at
most 64), else a new random one. It is on every log line written while the
request runs and is sent back in the response's ``X-Request-Id``.

**Security events** (logger ``keyholder.security``, one line each, with the
field ``event``): ``login.succeeded``, ``login.failed``, ``login.throttled``,
``client_authentication.failed``, ``token.reuse_detected``,
``key.rotated``, ``key.revoked``, ``membership.promoted``. They carry ids
(a person's ``sub``, a client id, a kid, a client network), never a token, a
code, a password, a secret or an e-mail address ("No tokens in logs")."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
from datetime import UTC, datetime

REQUEST_ID = contextvars.ContextVar("keyholder_request_id", default=None)
HEADER = "X-Request-Id"
_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
security = logging.getLogger("keyholder.security")

# Fields a log call may add with extra={...}: what a JSON line carries.
FIELDS = ("event", "person", "client_id", "kid", "alg", "network", "reason", "family",
          "customer", "how", "state")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


def event(name: str, message: str, **fields) -> None:
    """One security event: ``message`` for people, ``fields`` for machines."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not a security log field: {sorted(unknown)}")
    security.info(message, extra={"event": name, **fields})


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id
    and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name in FIELDS and name not in _STANDARD:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{text} [request {request_id}]" if request_id else text


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(level: str, log_format: str) -> None:
    """The ``keyholder`` loggers' level and format (once per process: a
    handler already there is given the format)."""
    logger = logging.getLogger("keyholder")
    logger.setLevel(level)
    # Authlib logs every issued token at DEBUG ("Issue token {...}"): never let
    # it, whatever LOG_LEVEL says (no tokens in logs).
    logging.getLogger("authlib").setLevel(logging.INFO)
    if logging.getLogger().handlers and not logger.handlers:
        return  # the host application (or pytest) has its own handlers
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    for handler in logger.handlers:
        handler.setFormatter(formatter(log_format))
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


def network_of(address: str | None) -> str | None:
    """The network a log keeps of a client address: IPv4 /24, IPv6 /48."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return str(ipaddress.ip_network((ip, 24 if ip.version == 4 else 48), strict=False))


def audited(_session, audit_event) -> None:
    """An audit listener (idp.directory.services.audit_listeners): the audited
    changes an operator watches, as security log events."""
    details = audit_event.details or {}
    if audit_event.action == "person.signed_in":
        event("login.succeeded", "a person signed in", person=audit_event.person_id,
              network=details.get("network"))
    elif audit_event.action == "membership.promoted":
        event("membership.promoted", "a member became administrator",
              person=audit_event.person_id, customer=audit_event.customer_id,
              how=details.get("how"))


def request_id_of(offered: str | None) -> str:
    if offered and _SHAPE.fullmatch(offered):
        return offered
    return secrets.token_hex(8)


class RequestIds:
    """WSGI middleware: the request id of each request, in the logs and in
    the response."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = request_id_of(environ.get("HTTP_X_REQUEST_ID"))
        environ["HTTP_X_REQUEST_ID"] = request_id
        token = REQUEST_ID.set(request_id)

        def with_id(status, headers, exc_info=None):
            headers = [h for h in headers if h[0].lower() != "x-request-id"]
            headers.append((HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, with_id)
        finally:
            REQUEST_ID.reset(token)
