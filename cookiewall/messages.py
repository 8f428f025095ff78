"""The request and reply the consent endpoints exchange, and the error a bad request raises.

Plain data, no ASGI plumbing: the middleware (`cookiewall.middleware`) builds a `Request`
from the scope and sends the `Reply`; the endpoints (`cookiewall.endpoints`) only read one
and return the other.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from cookiewall.banner import BannerMarkup
from cookiewall.consent import Consent

Headers = list[tuple[bytes, bytes]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
MAX_FIELDS = 64


@dataclass(frozen=True, slots=True)
class Site:
    """What one root path makes of the endpoints' URLs, their routes and the consent cookie.

    `root` is the public, percent-encoded root path without a trailing slash ("" at the
    host's root); `routes` are matched against the request path with the root stripped.
    """

    root: str
    routes: dict[str, Callable[[Request], Awaitable[Reply]]]
    banner: BannerMarkup
    cookie_path: str
    clear: tuple[bytes, bytes]  # deleting the consent cookie: over http, over https


@dataclass(slots=True)
class Request:
    scope: dict[str, Any]
    receive: Receive
    consent: Consent
    secure: bool
    site: Site
    # Lower-case names; a field sent more than once is one value joined by ", " (RFC 9110 5.3).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    def query(self) -> dict[str, str]:
        raw = self.scope.get("query_string", b"").decode("latin-1")
        try:
            return dict(parse_qsl(raw, max_num_fields=MAX_FIELDS))
        except ValueError:
            return {}


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Headers = field(default_factory=list)
    sets_consent_cookie: bool = False  # then the middleware adds no clearing/re-signing header


class ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> Reply:
    body = json.dumps({"error": message}).encode()
    return Reply(status, body, "application/json", [(b"cache-control", b"no-store")])


# The page a visitor sees when a consent form (the banner without JavaScript) is refused as
# possibly another site's (403): the words, per language, as the banner's own are. A site on
# plain HTTP with `Referrer-Policy: no-referrer` gets this for every no-JavaScript choice
# (browsers send no Fetch Metadata there, and `Origin: null`), so it must read as a page.
REFUSED_FORM_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your choice was not saved",
        "reason": (
            "This site could not confirm that your cookie choice was sent from one of its own"
            " pages, so nothing was changed."
        ),
        "back": "Back to the page",
        "home": "Go to the home page",
    },
    "de": {
        "title": "Ihre Wahl wurde nicht gespeichert",
        "reason": (
            "Diese Website konnte nicht bestätigen, dass Ihre Cookie-Auswahl von einer ihrer"
            " eigenen Seiten gesendet wurde. Deshalb wurde nichts geändert."
        ),
        "back": "Zurück zur Seite",
        "home": "Zur Startseite",
    },
    "fr": {
        "title": "Votre choix n'a pas été enregistré",
        "reason": (
            "Ce site n'a pas pu confirmer que votre choix de cookies venait de l'une de ses"
            " propres pages : rien n'a été modifié."
        ),
        "back": "Retour à la page",
        "home": "Aller à la page d'accueil",
    },
}


def refused_form_texts(language: str) -> tuple[str, dict[str, str]]:
    """`(tag, words)` of the refused-form page for a visitor whose banner speaks `language`
    (a lower-case tag, from `Banner.language_for`): its own words, its primary language's
    (`de-ch`: German), else English, with the tag of the words given (a page in `lang="it"`
    written in English would be read aloud with Italian sounds)."""
    for tag in (language, language.split("-", 1)[0]):
        if tag in REFUSED_FORM_TEXTS:
            return tag, REFUSED_FORM_TEXTS[tag]
    return "en", REFUSED_FORM_TEXTS["en"]
