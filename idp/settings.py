"""Every setting of Keyholder, with its default, unit and production safety.

Settings come from environment variables named ``KEYHOLDER_<NAME>`` (for
example ``KEYHOLDER_DATABASE_URL``), or from the mapping given to
``create_app(config)`` under ``<NAME>``, which wins. Every command
(``keyholder init``, ``serve``, ``client add``...) reads the same settings, so
commands run with one environment work on one instance.

Settings are parsed and checked when the application is created; a wrong value
or an unknown ``KEYHOLDER_*`` variable stops the start with a message naming
it. Defaults marked *unsafe in production* are fine for a laptop; a process
that uses one says so once, in one log line, unless ``KEYHOLDER_DEMO`` is on
(help, ``keyholder --help``, reads no settings). The parsers are in
:mod:`idp.setting_values`. ``docs/settings.md`` is generated from this module
(``keyholder settings``) and lists them all.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idp.setting_values import (  # noqa: F401 (is_loopback_host: the others' import)
    _bool,
    _default_keys_dir,
    _float_between,
    _int_between,
    _issuer,
    _keys_store,
    _log_format,
    _log_level,
    _networks,
    _optional_url,
    _path,
    _secret,
    _text,
    _time_zone,
    is_loopback_host,
)

PREFIX = "KEYHOLDER_"
TEST_PREFIX = "KEYHOLDER_TEST_"  # read by the test suite only, ignored here

log = logging.getLogger("keyholder.settings")

# Published so that everyone can see they must be replaced; the start-up
# warning names them.
INSECURE_SECRET_KEY = "insecure-keyholder-development-secret-key-change-me"
INSECURE_KEYS_PASSPHRASE = "insecure-keyholder-development-passphrase-change-me"


class SettingsError(ValueError):
    """One or more settings are wrong; the message lists each, one per line."""




@dataclass(frozen=True)
class Setting:
    name: str
    default: Any | Callable[[dict[str, Any]], Any]  # a callable sees the values so far
    parse: Callable[[str], Any]
    unit: str
    safe_in_production: bool
    doc: str
    shown_default: str = ""  # how docs show a computed default

    @property
    def variable(self) -> str:
        return PREFIX + self.name

    def default_for(self, values: dict[str, Any]) -> Any:
        return self.default(values) if callable(self.default) else self.default


SETTINGS: tuple[Setting, ...] = (
    Setting("DEMO", False, _bool, "boolean", True,
            "Demo mode: known demo data and passwords, and no warnings about "
            "the development defaults below. Set by `keyholder demo`."),
    Setting("INSTANCE_PATH", lambda v: _path("instance"), _path, "path", True,
            "Folder for the instance's own files (the SQLite database). "
            "Relative paths are taken from the working directory.", "./instance"),
    Setting("DATABASE_URL",
            lambda v: "sqlite:///" + str(Path(v["INSTANCE_PATH"]) / "keyholder.db"),
            _text, "SQLAlchemy URL", True,
            "The directory database: `sqlite:///path` (embedded default) or "
            "`postgresql+psycopg://user@host/db` (production; extra `postgres`).",
            "sqlite:///<INSTANCE_PATH>/keyholder.db"),
    Setting("DATABASE_POOL_SIZE", 5, _int_between(1, 200), "connections", True,
            "PostgreSQL: connections each provider process keeps open."),
    Setting("DATABASE_POOL_OVERFLOW", 10, _int_between(0, 200), "connections", True,
            "PostgreSQL: connections a process may open beyond the pool at busy times."),
    Setting("DATABASE_POOL_TIMEOUT", 2.0, _float_between(0.1, 60), "seconds", True,
            "How long a request waits for a free connection before it is answered 503 "
            "`temporarily_unavailable`."),
    Setting("DATABASE_CONNECT_TIMEOUT", 3, _int_between(1, 60), "seconds", True,
            "PostgreSQL: giving up on a server that does not accept the connection; TCP "
            "keepalives and `tcp_user_timeout` give up on one that stops answering."),
    Setting("DATABASE_STATEMENT_TIMEOUT", 10_000, _int_between(100, 600_000), "milliseconds",
            True, "PostgreSQL's `statement_timeout` for the provider's statements (not for "
            "migrations): a hung server costs a request this long at most."),
    Setting("DATABASE_LOCK_TIMEOUT", 5000, _int_between(100, 600_000), "milliseconds", True,
            "PostgreSQL's `lock_timeout`: the longest wait for a row or table lock."),
    Setting("ISSUER", "http://127.0.0.1:8000", _issuer, "URL", False,
            "The provider's issuer identifier, as relying parties see it. "
            "https is required unless the host is loopback."),
    Setting("SECRET_KEY", INSECURE_SECRET_KEY, _secret, "text", False,
            "Signs the provider's own cookies and CSRF tokens. At least 32 "
            "random characters; the default is public."),
    Setting("KEYS_STORE", lambda v: "database" if v["DATABASE_URL"].startswith("postgresql")
            else "folder", _keys_store, "folder or database", True,
            "Where the signing keys are kept: `database` (the `signing_key` table: nodes on "
            "several machines share it; the default on PostgreSQL) or `folder` "
            "(KEYHOLDER_KEYS_DIR, for processes on one machine; the default on SQLite). "
            "`keyholder keys import` moves a folder's keys into the database.",
            "database on PostgreSQL, else folder"),
    Setting("KEYS_DIR", lambda v: _default_keys_dir(v["INSTANCE_PATH"]), _path, "path", True,
            "The signing-key store. Share it between provider processes. An older "
            "default, `./keys`, is still used when it holds keys.", "<INSTANCE_PATH>/keys"),
    Setting("KEYS_PASSPHRASE", INSECURE_KEYS_PASSPHRASE, _secret, "text", False,
            "Encrypts the private signing keys at rest. At least 32 "
            "characters; the default is public."),
    Setting("SMTP_URL", "smtp://127.0.0.1:8025", _text, "URL", False,
            "Where the outbox worker sends e-mail: `smtp://host:port` or "
            "`smtps://user:password@host:port`. The default is the demo mailbox."),
    Setting("HOST", "127.0.0.1", _text, "address", True,
            "Address the provider listens on (`demo`, `serve`)."),
    Setting("PORT", 8000, _int_between(1, 65535), "TCP port", True,
            "Port the provider listens on (`demo`, `serve`)."),
    Setting("DEMO_PORTS_FROM", 8101, _int_between(1024, 65000), "TCP port", True,
            "`keyholder demo`: the first of the seven ports of the partner services and "
            "the mailbox page (the provider has KEYHOLDER_PORT; the mailbox's SMTP server "
            "listens at KEYHOLDER_SMTP_URL)."),
    Setting("WORKERS", lambda v: os.cpu_count() or 1, _int_between(1, 256), "processes", True,
            "Worker processes of `keyholder serve` (granian); one that dies is replaced. "
            "One per CPU: more only add latency (README, Speed).", "CPUs"),
    Setting("THREADS", 2, _int_between(1, 64), "threads", True,
            "Python threads per worker of `keyholder serve`. One runs Python at a time "
            "(the GIL); a second one serves while the first waits for the database or "
            "hashes a password. Raise it when the database is far away."),
    Setting("WORKER_CONNECTIONS", 128, _int_between(1, 10000), "connections", True,
            "Connections one worker of `keyholder serve` holds at once (granian's "
            "backpressure), idle keep-alive ones included (closed after 5 s idle); "
            "further clients wait in the listen queue until one closes."),
    Setting("WORKER_MAX_RSS", 0, _int_between(0, 1024 * 1024), "MiB", True,
            "A worker of `keyholder serve` using more memory than this (sampled every "
            "30 s) is replaced gracefully. 0: never."),
    Setting("TRUSTED_PROXIES", (), _networks, "addresses", True,
            "Comma-separated addresses or networks of reverse proxies whose "
            "X-Forwarded-For is believed. Empty: the peer address is the client.",
            "(none)"),
    Setting("FAST_LANE", True, _bool, "boolean", True,
            "Answer the hot paths (client_credentials, and refresh_token on PostgreSQL, at "
            "/token, "
            "introspection of our access tokens, UserInfo, JWKS, discovery) in a lean "
            "WSGI lane in front of the Flask app, with the same rules; anything it does "
            "not handle goes to the full path. Off: everything takes the full path."),
    Setting("CLIENT_CACHE_SECONDS", 30.0, _float_between(0, 300), "seconds", True,
            "How long a provider process trusts its copy of a client (secret, redirect "
            "URIs): a secret rotated or a client removed on another node is refused there "
            "within this time."),
    Setting("VERIFICATION_MEMO_SIZE", 2048, _int_between(0, 1_000_000), "tokens", True,
            "Access tokens whose signature each process remembers having verified "
            "(expiry and key re-checked at each use; the live state is always read). "
            "0 turns the memo off."),
    Setting("CLOCK_LEEWAY", 60, _int_between(0, 300), "seconds", True,
            "How far in the future a token's `iat` or `nbf` may be when the provider "
            "checks its own tokens (another node's clock may run ahead). `exp` is never "
            "stretched."),
    Setting("ACCESS_TOKEN_LIFETIME", 300, _int_between(30, 3600), "seconds", True,
            "Lifetime of JWT access tokens (RFC 9068). Short, because a JWT "
            "keeps the role it was issued with until it expires."),
    Setting("ID_TOKEN_LIFETIME", 600, _int_between(30, 3600), "seconds", True,
            "Lifetime of ID tokens."),
    Setting("AUTHORIZATION_CODE_LIFETIME", 60, _int_between(5, 60), "seconds", True,
            "Lifetime of an authorization code (at most 60 s)."),
    Setting("REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600, _int_between(60, 365 * 24 * 3600),
            "seconds", True, "Absolute lifetime of a refresh-token family, from "
            "the login it came from; rotation never extends it."),
    Setting("REFRESH_RETRY_GRACE", 10, _int_between(0, 60), "seconds", True,
            "A refresh token sent again this soon after its use, by the same client, while "
            "its replacement is still unused, is a retry of a lost answer: it gets a fresh "
            "rotation instead of revoking the family. 0: every second use revokes."),
    Setting("SESSION_LIFETIME", 12 * 3600, _int_between(60, 30 * 24 * 3600), "seconds",
            True, "Absolute lifetime of a single sign-on session at the provider."),
    Setting("INTENT_NOTICE_INTERVAL", 24 * 3600, _int_between(60, 30 * 24 * 3600), "seconds",
            True, "The console's \"Let the administrators know\": at most one notice per "
            "member per customer in this time, so the button cannot flood the "
            "administrators' mailboxes."),
    Setting("PUSH_RETRY_FIRST", 1.0, _float_between(0.1, 3600), "seconds", True,
            "The wait after a failed push of a security event or a back-channel logout "
            "token; it doubles with each failure up to KEYHOLDER_PUSH_RETRY_MAX."),
    Setting("PUSH_RETRY_MAX", 300.0, _float_between(0.1, 24 * 3600), "seconds", True,
            "The longest wait between two pushes to a receiver that does not answer."),
    Setting("PUSH_RETRY_HORIZON", 24 * 3600, _int_between(10, 30 * 24 * 3600), "seconds",
            True, "How long pushes to a receiver are retried: an event still not "
            "delivered this long after it was queued pauses its stream (the events are "
            "held; `keyholder ssf enable` resumes), and a logout token is given up."),
    Setting("READY_OUTBOX_LAG", 300, _int_between(10, 7 * 24 * 3600), "seconds", True,
            "`/health/ready` answers 503 when an e-mail has waited longer than this to be "
            "sent (the outbox worker is stuck or the mail server refuses)."),
    Setting("DRAIN_SECONDS", 5.0, _float_between(0, 120), "seconds", True,
            "`keyholder serve`, after SIGTERM: how long `/health/ready` answers 503 while "
            "requests are still served, so the load balancer stops sending before the "
            "listener closes. 0: stop at once."),
    Setting("PASSWORD_TIME_COST", 3, _int_between(1, 20), "iterations", True,
            "argon2id passes (RFC 9106 §4, second recommended option). Raising "
            "it rehashes each password at its next login."),
    Setting("PASSWORD_MEMORY_COST", 65536, _int_between(8, 4 * 1024 * 1024), "KiB", True,
            "argon2id memory (64 MiB by default). Lower it only in tests."),
    Setting("PASSWORD_PARALLELISM", 4, _int_between(1, 16), "lanes", True,
            "argon2id parallelism."),
    Setting("TIME_ZONE", "Europe/Brussels", _time_zone, "IANA time zone", True,
            "Pages and e-mails show dates and times in this time zone (the database "
            "keeps UTC)."),
    Setting("OPERATOR_NAME", "MyProximus", _text, "text", True,
            "The name customers know the service by, shown in every page's header and in "
            "e-mails; the product's own name never appears on customer-facing pages."),
    Setting("MAIL_FROM", lambda v: f"{v['OPERATOR_NAME']} <no-reply@keyholder.localhost>",
            _text, "e-mail address", False, "The From address of every e-mail; its name is "
            "the operator's.", "<OPERATOR_NAME> <no-reply@keyholder.localhost>"),
    Setting("OPERATOR_LOGO_URL", "", _optional_url, "URL", True,
            "The operator's logo in the header. Empty: the built-in mark."),
    Setting("PORTAL_URL", "", _optional_url, "URL", True,
            "The operator's self-care portal, linked from the provider's and the "
            "console's header. Empty: no link."),
    Setting("PROMOTION_UNDO_WINDOW", 7 * 24 * 3600, _int_between(3600, 90 * 24 * 3600),
            "seconds", True, "How long the \"I did not agree — undo this\" link in the "
            "e-mail telling administrators of a self-promotion can be used."),
    Setting("METRICS_NETWORKS", (ipaddress.ip_network("127.0.0.0/8"),
                                 ipaddress.ip_network("::1/128")), _networks, "addresses",
            True, "Comma-separated addresses or networks allowed to read `/metrics` "
            "(Prometheus). Empty: only with KEYHOLDER_METRICS_TOKEN.", "127.0.0.0/8, ::1"),
    Setting("METRICS_TOKEN", "", _text, "text", True,
            "A bearer token that also opens `/metrics` (`Authorization: Bearer ...`), for "
            "a Prometheus outside KEYHOLDER_METRICS_NETWORKS. Empty: none."),
    Setting("LOG_LEVEL", "INFO", _log_level, "level", True,
            "Level of the `keyholder` loggers."),
    Setting("LOG_FORMAT", "text", _log_format, "text or json", True,
            "`json`: one JSON object per line (time, level, logger, message, request_id, "
            "and a security event's fields), the access log too; `text`: for people."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


class Settings(Mapping[str, Any]):
    """Parsed, checked settings; read as ``settings.DATABASE_URL`` or ``settings["PORT"]``."""

    def __init__(self, values: dict[str, Any], from_default: frozenset[str]) -> None:
        self._values = values
        self.from_default = from_default

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def insecure_defaults(self) -> list[str]:
        """Variables left at a default that is unsafe in production."""
        return [BY_NAME[n].variable for n in sorted(self.from_default)
                if not BY_NAME[n].safe_in_production]


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read ``KEYHOLDER_*`` variables from ``environ`` (default: the process
    environment), apply ``overrides`` (already typed, or text to parse), check
    everything and return :class:`Settings`. Raises :class:`SettingsError`."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    problems = [f"{key}: unknown setting" for key in sorted(environ)
                if key.startswith(PREFIX) and not key.startswith(TEST_PREFIX)
                and key[len(PREFIX):] not in BY_NAME]
    problems += [f"{key}: unknown setting" for key in sorted(overrides) if key not in BY_NAME]
    values: dict[str, Any] = {}
    defaulted: set[str] = set()
    for setting in SETTINGS:
        if setting.name in overrides:
            raw = overrides[setting.name]
        elif setting.variable in environ:
            raw = environ[setting.variable]
        else:
            values[setting.name] = setting.default_for(values)
            defaulted.add(setting.name)
            continue
        try:
            values[setting.name] = setting.parse(raw) if isinstance(raw, str) else raw
        except ValueError as error:
            problems.append(f"{setting.variable}: {error}")
            values[setting.name] = setting.default_for(values)
    if problems:
        raise SettingsError("\n".join(problems))
    return Settings(values, frozenset(defaulted))


_warned: set[tuple[str, ...]] = set()


def warn_about_insecure_defaults(settings: Settings) -> None:
    """Log once per process, in one line, outside demo mode, the unsafe
    defaults in use (a worker builds its app once; tests build many)."""
    unsafe = tuple(settings.insecure_defaults())
    if settings.DEMO or not unsafe or unsafe in _warned:
        return
    _warned.add(unsafe)
    log.warning("Development defaults NOT safe in production are in use (%s); see "
                "docs/settings.md.", ", ".join(unsafe))


def describe() -> str:
    """The settings as a Markdown table (for ``docs/settings.md``)."""
    rows = ["| variable | default | unit | default safe in production | meaning |",
            "|---|---|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.shown_default or s.default}`"
        rows.append(f"| `{s.variable}` | {default} | {s.unit} | "
                    f"{'yes' if s.safe_in_production else '**no**'} | {s.doc} |")
    return "\n".join(rows) + "\n"
