"""How each setting's text is read and checked (:mod:`idp.settings` lists the
settings). A parser returns the typed value or raises ``ValueError`` with a
reason for the operator."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _float_between(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text.strip())
        if not low <= value <= high:  # also refuses nan
            raise ValueError(f"expected a number of seconds from {low} to {high}")
        return value

    return parse


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip())
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _text(text: str) -> str:
    return text


def _path(text: str) -> str:
    return str(Path(text).expanduser().resolve())


def _log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in {"text", "json"}:
        raise ValueError("expected text or json")
    return value


def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _issuer(text: str) -> str:
    # OIDC Discovery §3: https, no query, no fragment. Plain http only for a
    # provider that listens on this machine alone.
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("expected an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("an issuer has no query and no fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("an issuer must use https unless it is on loopback")
    return text.rstrip("/")


def _default_keys_dir(instance_path: str) -> str:
    # Keys used to live in ./keys beside the checkout; an instance that has
    # them there keeps them (a key folder is never moved behind anyone's back).
    legacy = Path("keys")
    if any(legacy.glob("*.json")):
        return _path(str(legacy))
    return str(Path(instance_path) / "keys")


def _time_zone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as Europe/Brussels") from None
    return text.strip()


def _optional_url(text: str) -> str:
    if text and urlsplit(text).scheme not in {"http", "https"}:
        raise ValueError("expected an absolute http(s) URL, or nothing")
    return text.rstrip("/")


def _keys_store(text: str) -> str:
    value = text.strip().lower()
    if value not in {"folder", "database"}:
        raise ValueError("expected folder or database")
    return value


def _secret(text: str) -> str:
    if len(text) < 32:
        raise ValueError("expected at least 32 characters of random text")
    return text
