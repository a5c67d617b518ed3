"""The shared header of the services' pages (the same markup and classes as
the provider's and the console's, ``services/templates/services/masthead.html``):
the operator's brand, the places of the operator (the portal, the console,
the services) with the current one marked, the person, sign-out and the
language switcher.

A service's configuration says it all (``operator_name``,
``operator_logo_url``, ``links``); the first link is the operator's home,
where the brand leads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.reasons import shown_title


@dataclass(frozen=True)
class Place:
    title: str
    url: str
    current: bool


def _same_site(url: str, base_url: str) -> bool:
    """``url`` is the start page of the service at ``base_url``."""
    link, own = urlsplit(url), urlsplit(base_url.rstrip("/"))
    return (link.scheme, link.netloc) == (own.scheme, own.netloc) and \
        link.path.rstrip("/") == own.path.rstrip("/")


def places(links: Iterable[tuple[str, str]], base_url: str) -> list[Place]:
    return [Place(shown_title(title), url, _same_site(url, base_url)) for title, url in links]


class Shown:
    """A service's configuration as pages show it: its title in the page's language."""

    def __init__(self, config) -> None:
        self._config = config

    def __getattr__(self, name: str):
        return getattr(self._config, name)

    @property
    def title(self) -> str:
        return shown_title(self._config.title)


def context(config) -> dict:
    """What ``masthead.html`` reads of the configuration (the base templates
    set the person and the sign-out address)."""
    links = tuple(config.links)
    return {"operator_name": config.operator_name,
            "operator_logo_url": config.operator_logo_url,
            "brand_home": links[0][1] if links else config.base_url.rstrip("/") + "/",
            "places": places(links, config.base_url)}


__all__ = ["Place", "Shown", "context", "places"]
