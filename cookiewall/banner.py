"""The banner: texts per language, server-rendered HTML, and injection into pages.

Everything that comes from configuration is HTML-escaped. The markup has no inline script or
style, so the banner works under `Content-Security-Policy: default-src 'self'`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html import escape, unescape
from importlib.resources import files
from string import Template
from typing import Any, cast
from urllib.parse import quote

from cookiewall import languages
from cookiewall.consent import Consent
from cookiewall.policy import COOKIE_LIST_TABLE, Category, Policy, is_blank

DEFAULT_LANGUAGE = "en"
_LANGUAGE_CACHE_SIZE = 256
_ACCEPT_LANGUAGE_READ = 512  # characters; real headers are under 100
# A page's or link's own language tag longer than this names none the policy has: BCP 47
# tags in use are under 20 characters (`zh-Hant-TW`, `sr-Latn-RS`, `de-CH-1996`).
_LANGUAGE_TAG_READ = 64
_DOCUMENT_START_READ = 4096  # bytes: where a page says it is a whole document

# Embedded defaults; a policy's `texts` override them key by key, per language.
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Cookies on this site",
        "intro": (
            "We use cookies that the site needs to work. With your permission we would also"
            " like to use optional cookies. Accept all, reject all, or choose by category;"
            " you can change your mind at any time."
        ),
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customize": "Choose categories",
        "save": "Save choices",
        "always_on": "always on",
        "details": "Cookie details",
        "categories_legend": "Cookie categories",
        "gpc_refused": "off while your browser sends Global Privacy Control",
        "gpc_dnt_refused": (
            "off while your browser asks not to be tracked (Global Privacy Control or Do Not Track)"
        ),
        # Said by a screen reader (banner.js's live region) once a choice is saved without
        # leaving the page: the banner is gone, and nothing else tells the visitor.
        "saved_accept_all": "Your choice is saved: all cookies accepted.",
        "saved_reject_all": "Your choice is saved: optional cookies rejected.",
        "saved_choices": "Your choice of cookie categories is saved.",
    },
    "de": {
        "title": "Cookies auf dieser Website",
        "intro": (
            "Wir verwenden Cookies, die für den Betrieb der Website nötig sind. Mit Ihrer"
            " Erlaubnis möchten wir zusätzlich optionale Cookies verwenden. Akzeptieren Sie"
            " alle, lehnen Sie alle ab oder wählen Sie nach Kategorien; Sie können Ihre Wahl"
            " jederzeit ändern."
        ),
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "customize": "Kategorien wählen",
        "save": "Auswahl speichern",
        "always_on": "immer aktiv",
        "details": "Details zu Cookies",
        "categories_legend": "Cookie-Kategorien",
        "gpc_refused": "aus, solange Ihr Browser Global Privacy Control sendet",
        "gpc_dnt_refused": (
            "aus, solange Ihr Browser darum bittet, nicht verfolgt zu werden"
            " (Global Privacy Control oder Do Not Track)"
        ),
        "saved_accept_all": "Ihre Wahl ist gespeichert: alle Cookies akzeptiert.",
        "saved_reject_all": "Ihre Wahl ist gespeichert: optionale Cookies abgelehnt.",
        "saved_choices": "Ihre Auswahl der Cookie-Kategorien ist gespeichert.",
    },
    "fr": {
        "title": "Les cookies sur ce site",
        "intro": (
            "Nous utilisons des cookies nécessaires au fonctionnement du site. Avec votre"
            " accord, nous aimerions aussi utiliser des cookies facultatifs. Acceptez tout,"
            " refusez tout ou choisissez par catégorie ; vous pouvez changer d'avis à tout"
            " moment."
        ),
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "customize": "Choisir les catégories",
        "save": "Enregistrer mes choix",
        "always_on": "toujours actif",
        "details": "Détails des cookies",
        "categories_legend": "Catégories de cookies",
        "gpc_refused": "désactivé tant que votre navigateur envoie Global Privacy Control",
        "gpc_dnt_refused": (
            "désactivé tant que votre navigateur demande à ne pas être suivi"
            " (Global Privacy Control ou Do Not Track)"
        ),
        "saved_accept_all": "Votre choix est enregistré : tous les cookies sont acceptés.",
        "saved_reject_all": "Votre choix est enregistré : les cookies facultatifs sont refusés.",
        "saved_choices": "Votre choix de catégories de cookies est enregistré.",
    },
}

# Labels for the category names policies commonly use, so that a German or French banner
# does not show "Necessary" or "Analytics"; a policy's `labels` override them.
DEFAULT_LABELS: dict[str, dict[str, str]] = {
    "de": {
        "necessary": "Notwendig",
        "functional": "Funktional",
        "preferences": "Präferenzen",
        "analytics": "Statistik",
        "statistics": "Statistik",
        "marketing": "Marketing",
        "advertising": "Werbung",
    },
    "fr": {
        "necessary": "Strictement nécessaires",
        "functional": "Fonctionnels",
        "preferences": "Préférences",
        "analytics": "Mesure d'audience",
        "statistics": "Statistiques",
        "marketing": "Marketing",
        "advertising": "Publicité",
    },
}


# The words around the cookie list (`/consent/cookies?format=html`), which the banner's
# "Cookie details" link opens: its rows are the policy's own, as written.
COOKIE_LIST_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "caption": "Cookies (policy version {version})",
        "category": "Category",
        "cookie": "Cookie",
        "purpose": "Purpose",
        "domain": "Domain",
        "path": "Path",
        "consent_cookie": "stores your consent choice (strictly necessary)",
        "strictly_necessary": "strictly necessary",
        "undeclared": "(undeclared)",
        "undeclared_purpose": "seen on this site, not in the policy",
        # A host-only cookie's Domain (none declared): sent to this host alone. An empty cell
        # was read by screen readers as "blank".
        "host_only": "this site only",
        # An undeclared cookie's Domain and Path: a request's Cookie header does not say them.
        "unknown": "unknown",
    },
    "de": {
        "caption": "Cookies (Richtlinienversion {version})",
        "category": "Kategorie",
        "cookie": "Cookie",
        "purpose": "Zweck",
        "domain": "Domain",
        "path": "Pfad",
        "consent_cookie": "speichert Ihre Einwilligungsentscheidung (unbedingt erforderlich)",
        "strictly_necessary": "unbedingt erforderlich",
        "undeclared": "(nicht deklariert)",
        "undeclared_purpose": "auf dieser Website gesehen, nicht in der Richtlinie",
        "host_only": "nur diese Website",
        "unknown": "unbekannt",
    },
    "fr": {
        "caption": "Cookies (version de la politique {version})",
        "category": "Catégorie",
        "cookie": "Cookie",
        "purpose": "Finalité",
        "domain": "Domaine",
        "path": "Chemin",
        "consent_cookie": "enregistre votre choix de consentement (strictement nécessaire)",
        "strictly_necessary": "strictement nécessaire",
        "undeclared": "(non déclaré)",
        "undeclared_purpose": "vu sur ce site, absent de la politique",
        "host_only": "ce site uniquement",
        "unknown": "inconnu",
    },
}


# Languages written right to left, and the scripts (ISO 15924) that are: a tag's script
# subtag decides where it has one (`az-arab` is, `ug-latn` is not), else its language.
_RTL_LANGUAGES = frozenset(
    {"ar", "arc", "azb", "ckb", "dv", "fa", "he", "iw", "ji", "ks", "lrc", "mzn", "nqo", "pnb"}
    | {"ps", "sd", "syr", "ug", "ur", "yi"}
)
_RTL_SCRIPTS = frozenset({"adlm", "arab", "hebr", "mand", "nkoo", "rohg", "samr", "syrc", "thaa"})


def direction(language: str) -> str:
    """`rtl` or `ltr`: the `dir` of text in `language` (a lower-case BCP 47 tag)."""
    primary, *rest = language.split("-")
    for subtag in rest:
        if len(subtag) == 4 and subtag.isalpha():
            return "rtl" if subtag in _RTL_SCRIPTS else "ltr"
    return "rtl" if primary in _RTL_LANGUAGES else "ltr"


def _other_language(
    written: str, language: str, attributes: tuple[str, str] = ("lang", "dir")
) -> str:
    """The attributes that mark words `written` in one language inside text in `language`
    (` lang="en" dir="ltr"`); "" where both are one language written one way (`de` in
    `de-ch`, `no` in `nb`, `iw` in `he`).

    The direction counts too: `[texts.ug]` words, in Arabic script, inside a `ug-latn` list
    were laid out left to right. A mark names the language by its current code (`he`, not
    the `iw` a table may be keyed by)."""
    ink = direction(written)
    if languages.same_language(written, language) and ink == direction(language):
        return ""
    name, direction_name = attributes
    return f' {name}="{escape(languages.modern(written))}" {direction_name}="{ink}"'


@dataclass(frozen=True, slots=True)
class CookieListTexts:
    """The cookie list's words in one language, with the category labels of that language."""

    language: str  # what the words are in: the page's `lang` and Content-Language
    words: dict[str, str]
    labels: dict[str, str]
    # The language each word is written in where that is not `language`: a policy's partial
    # `cookie_list` table leaves the rest in English ("this site only" in an Italian list).
    written: dict[str, str] = field(default_factory=dict)

    def marked(self, key: str) -> str:
        """The attributes for the element that holds word `key` (see `_other_language`)."""
        return _other_language(self.written.get(key, self.language), self.language)


@dataclass(frozen=True, slots=True)
class CategoryRow:
    """One category's checkbox in one language, rendered in every state it can show."""

    name: str
    gpc_opt_out: bool
    unticked: str  # not granted; every optional category of an undecided visitor's banner
    ticked: str  # granted (a required category is always this: ticked and fixed)
    refused: str  # refused by the visitor's GPC signal: unticked, fixed, and saying why

    def showing(self, consent: Consent) -> str:
        if self.name in consent.granted:
            return self.ticked
        if consent.gpc and self.gpc_opt_out:
            return self.refused
        return self.unticked


def _resource(name: str) -> str:
    return (files("cookiewall") / name).read_text(encoding="utf-8")


# The shipped assets, read once: the static endpoints serve these very bytes, the hash below
# is of them, and their URLs carry a digest of them (so a copy cached under a URL is of them).
BANNER_CSS = (files("cookiewall") / "static/banner.css").read_bytes()
BANNER_JS = (files("cookiewall") / "static/banner.js").read_bytes()

# The injected <script src=…/banner.js> carries `integrity="<SCRIPT_INTEGRITY>"`. A page whose
# CSP allows scripts by hash alone (no nonce, no 'self') allows it by adding one source,
# SCRIPT_HASH_SOURCE, to `script-src` (CSP3: a hash source matches an external script whose
# integrity lists that hash; Chromium, Firefox 116+, Safari 15.6+). SHA-384, as SRI advises:
# the algorithms of the integrity and of the source must be the same. It changes with
# banner.js, that is with cookiewall's version: build the CSP from it rather than copy it.
# Stylesheets cannot be allowed so (CSP3 covers scripts only): `style-src 'self'` does.
SCRIPT_INTEGRITY = "sha384-" + base64.b64encode(hashlib.sha384(BANNER_JS).digest()).decode()
SCRIPT_HASH_SOURCE = f"'{SCRIPT_INTEGRITY}'"


def parse_accept_language(header: str) -> list[str]:
    """Language tags by preference (RFC 9110 section 12.5.4), q=0 dropped, lower-cased."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if not quality > 0:  # also drops NaN
            continue
        ranked.append((-min(quality, 1.0), index, tag))
    ranked.sort()
    return [tag for _, _, tag in ranked]


# aria-labelledby names the region after the first element of that id in the page: a fixed
# "cookiewall-title" that the page's own markup also uses named the banner after the page's
# heading (or, once banner.js moved it first, the page's region after it). The ids carry a
# token random per process and the banner's language (and `_row_id`'s the category): a page
# with a second banner in another language (an embedded `/consent/banner?lang=de`) had the
# German region named by the English heading. And a digest of the banner's words
# (`Banner._words_token`): ids of the process token alone were the same in an English banner of
# another mount, with other words, on the same page, whose boxes were then described by the
# first banner's ("Matomo" for a box that means Google Analytics). Banners of the same words
# (the injected one and /consent/banner of one gate) stay the same markup.
_ID_TOKEN = secrets.token_bytes(8)
TITLE_ID_PREFIX = "cookiewall-title-"


def _row_id(kind: str, token: str, lang: str, category: str) -> str:
    """The id of a category box's `label` or `description` in banner `lang` of the Banner
    `token`. Language tags and category names are letters, digits, `-`, `_` and `.` (Policy
    checks them)."""
    return f"cookiewall-{kind}-{token}-{lang}-{category}"


def _inherited(lang: str) -> tuple[str, ...]:
    """The tables text `lang` is layered from, least specific first, each over the one before:
    every tag its lookup falls back to (`languages.fallbacks`), so that `de-ch` inherits from
    `de`, and `zh-tw` from `zh`, `zh-hant` and `zh-hant-tw` (a `zh-TW` table of a title alone
    gave its buttons in English though `zh-Hant` words them)."""
    return tuple(reversed(languages.fallbacks(lang)))


# The end of the banner's start tag (templates/banner.html): its marker attribute, which the
# stylesheet and banner.js select, and, for a visitor yet to decide, one more.
_BANNER_TAG_END = " data-cookiewall>"
_UNDECIDED_TAG_END = " data-cookiewall data-cookiewall-undecided>"


class BannerMarkup:
    """The banner rendered for one URL prefix, once per language; `next` is filled per request.

    A site served under a sub-path (ASGI `root_path`) gets its own markup, so that its forms
    post to, and its assets load from, URLs the browser can reach.

    The markup is shared by every visitor: what belongs to one (where to return, the choice
    already made) is put together per request, never stored here.
    """

    __slots__ = ("_frames", "_parts", "_rows", "action_url", "css_url", "js_url")

    def __init__(
        self,
        action_url: str,
        css_url: str,
        js_url: str,
        parts: dict[str, list[str]],
        frames: dict[str, tuple[list[str], list[str], list[str]]],
        rows: dict[str, tuple[CategoryRow, ...]],
    ) -> None:
        self.action_url = action_url
        self.css_url = css_url
        self.js_url = js_url
        self._parts = parts  # the undecided visitor's banner, split where `next` goes
        # The banner before its category boxes (for an undecided visitor, for a decided
        # one) and after them, split alike.
        self._frames = frames
        self._rows = rows

    def fragment(self, language: str, next_path: str, consent: Consent | None = None) -> str:
        """The banner; given a visitor's `consent`, its boxes show that consent.

        A visitor who reopens the banner to change a decision sees what they allowed ticked:
        all boxes empty, saving it to take back one category took back every other one too.
        Under GPC, the categories it refuses are shown off and fixed, with the reason.
        """
        escaped = escape(next_path)
        if consent is None or not (consent.decided or consent.gpc):
            return escaped.join(self._parts[language])
        undecided_head, decided_head, tail = self._frames[language]
        head = decided_head if consent.decided else undecided_head
        rows = "\n".join(row.showing(consent) for row in self._rows[language])
        return escaped.join(head) + rows + escaped.join(tail)

    def snippet(
        self,
        language: str,
        next_path: str,
        consent: Consent | None = None,
        nonces: Nonces = (None, None),
    ) -> str:
        """What injection inserts before </body>: stylesheet, banner, enhancement script.

        Given the visitor's `consent`, the banner is the one `/consent/banner` shows them:
        under GPC, the categories it refuses are off and fixed, and say why. `nonces` (from
        `csp_nonces`) are the page's own, for the script and the stylesheet link. The script
        always carries `SCRIPT_INTEGRITY`, for a page whose CSP lists `SCRIPT_HASH_SOURCE`: a
        CSP the gate does not see (a proxy's, a CDN's) may be such a one.
        """
        script_nonce, style_nonce = nonces
        return (
            f'<link rel="stylesheet" href="{escape(self.css_url)}"{_nonce_attribute(style_nonce)}>'
            f"{self.fragment(language, next_path, consent)}"
            f'<script src="{escape(self.js_url)}" defer integrity="{SCRIPT_INTEGRITY}"'
            f"{_nonce_attribute(script_nonce)}></script>"
        )


class Banner:
    """Texts per language and the templates; `markup(url_prefix)` renders them for a prefix.

    `fragment`, `snippet` and the URLs below are those of `path_prefix` itself: a site at
    the root of its host.

    `honor_dnt` is the gate's: `Consent.gpc` then also means `DNT: 1`, so the note on a
    refused category names both signals (`gpc_dnt_refused`) rather than GPC alone.

    `language_in_links`: the banner's "Cookie details" link names the banner's language
    (`&lang=fr`), for a banner whose language is not the visitor's `Accept-Language` (the
    gate's `banner_language="page"`): the cookie list it opens then speaks the banner's.
    """

    def __init__(
        self,
        policy: Policy,
        path_prefix: str,
        honor_dnt: bool = False,
        *,
        language_in_links: bool = False,
    ) -> None:
        if not isinstance(honor_dnt, bool):
            raise ValueError(f"honor_dnt must be True or False, not {honor_dnt!r}")
        self.policy = policy
        self.honor_dnt = honor_dnt
        self.language_in_links = language_in_links
        self.css = BANNER_CSS
        self.js = BANNER_JS
        self._versions = (_digest(self.css), _digest(self.js))
        self._page = Template(_resource("templates/banner.html"))
        self._category = Template(_resource("templates/category.html"))
        self.texts = self._merge_texts(policy)
        self._text_languages = {lang: self._languages_of_texts(lang) for lang in self.texts}
        token = secrets.token_hex(8)
        self._marker = f"cookiewall-next-{token}"
        self._rows_marker = f"cookiewall-categories-{token}"
        self._id_token = self._words_token()
        self._title_id = f"{TITLE_ID_PREFIX}{self._id_token}"
        self._rows = {lang: self._category_rows(lang) for lang in self.texts}
        self._language_cache: dict[str, str] = {}
        self._cookie_lists = {lang: self._cookie_list(lang) for lang in self.texts}
        self.default = self.markup(path_prefix)
        self.action_url = self.default.action_url
        self.css_url = self.default.css_url
        self.js_url = self.default.js_url

    def _words_token(self) -> str:
        """What the banner's ids carry: the same for banners of the same words (headings,
        labels, descriptions, notes), in this process, and another for other words."""
        categories = [(c.name, c.description, c.required) for c in self.policy.categories]
        words = json.dumps([self.texts, categories, self.honor_dnt], sort_keys=True)
        return hashlib.sha256(_ID_TOKEN + words.encode()).hexdigest()[:8]

    def markup(self, url_prefix: str) -> BannerMarkup:
        """Render every language for endpoints reached at `url_prefix` (already URL-safe)."""
        css_version, js_version = self._versions
        parts: dict[str, list[str]] = {}
        frames: dict[str, tuple[list[str], list[str], list[str]]] = {}
        for lang in self.texts:
            page = self._render(lang, url_prefix)
            # What banner.js needs to know to take the banner away once the visitor decided
            # in another tab: it was shown because they had not (not reopened to change it).
            asking = page.replace(_BANNER_TAG_END, _UNDECIDED_TAG_END, 1)
            # Required categories ticked and fixed; the others never pre-ticked.
            undecided = "\n".join(row.unticked for row in self._rows[lang])
            parts[lang] = asking.replace(self._rows_marker, undecided).split(self._marker)
            head, tail = page.split(self._rows_marker)
            asking_head = asking.split(self._rows_marker)[0]
            frames[lang] = (
                asking_head.split(self._marker),
                head.split(self._marker),
                tail.split(self._marker),
            )
        return BannerMarkup(
            action_url=url_prefix,
            css_url=f"{url_prefix}/static/banner.css?v={css_version}",
            js_url=f"{url_prefix}/static/banner.js?v={js_version}",
            parts=parts,
            frames=frames,
            rows=self._rows,
        )

    @staticmethod
    def _merge_texts(policy: Policy) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for lang in set(DEFAULT_TEXTS) | set(policy.texts):
            tags = _inherited(lang)
            entry: dict[str, Any] = dict(DEFAULT_TEXTS[DEFAULT_LANGUAGE])
            entry["labels"] = {}
            for tag in tags:
                entry.update(DEFAULT_TEXTS.get(tag, {}))
                entry["labels"].update(DEFAULT_LABELS.get(tag, {}))
            for tag in tags:
                for key, value in policy.texts.get(tag, {}).items():
                    if isinstance(value, dict):
                        entry[key] = {**entry.get(key, {}), **value}
                    else:
                        entry[key] = value
            merged[lang] = entry
        return merged

    def _languages_of_texts(self, lang: str) -> dict[str, str]:
        """The language each of `lang`'s texts (title, intro, …) is written in: the tag of
        the table it came from, in `_merge_texts`'s order. A language the policy translates
        in part (`texts.ar.title` alone) gets the rest in English.

        Not the category labels and descriptions: where no table words them, the policy's
        own name and description are shown, in whatever language the site wrote them."""
        written: dict[str, str] = {}
        tags = _inherited(lang)
        tables = [(DEFAULT_LANGUAGE, DEFAULT_TEXTS[DEFAULT_LANGUAGE])]
        tables += [(tag, DEFAULT_TEXTS.get(tag, {})) for tag in tags]
        tables += [(tag, self.policy.texts.get(tag, {})) for tag in tags]
        for tag, table in tables:
            written.update({key: tag for key, value in table.items() if isinstance(value, str)})
        return written

    def marked(self, lang: str, key: str, attributes: tuple[str, str] = ("lang", "dir")) -> str:
        """The attributes that mark text `key` of banner `lang` written in another language
        (English where the policy left it untranslated); "" for text in the banner's own.

        Unmarked, English words in an `ar` banner were laid out right to left (the full stop
        at their start) and read by screen readers with an Arabic voice."""
        written = self._text_languages[lang].get(key, DEFAULT_LANGUAGE)
        return _other_language(written, lang, attributes)

    def language_for(self, accept_language: str | None) -> str:
        if not accept_language:
            return DEFAULT_LANGUAGE
        # Keyed by what is read: a whole header as key kept up to 256 of any length (a bot's
        # 64 kB headers held 16 MB) and made every padded variant a miss.
        accept_language = accept_language[:_ACCEPT_LANGUAGE_READ]
        cached = self._language_cache.get(accept_language)
        if cached is not None:
            return cached
        chosen = DEFAULT_LANGUAGE
        for tag in parse_accept_language(accept_language):
            if tag == "*":
                break
            found = self._lookup(tag)
            if found is not None:
                chosen = found
                break
        if len(self._language_cache) >= _LANGUAGE_CACHE_SIZE:
            self._language_cache.clear()
        self._language_cache[accept_language] = chosen
        return chosen

    def language_named(self, tag: str | None) -> str | None:
        """The language of the texts for a language tag a page or a link names (`fr-CH`
        finds `fr`, subtag by subtag as `language_for` looks up `Accept-Language`'s); None
        when it names none the policy has texts for (nor `""`, an unknown language)."""
        if not tag or len(tag) > _LANGUAGE_TAG_READ:
            return None
        return self._lookup(tag.strip(" \t\n\f\r").lower())

    def cookie_list_texts(self, language: str) -> CookieListTexts:
        """The cookie list for a visitor whose banner is in `language` (from `language_for`)."""
        return self._cookie_lists.get(language) or self._cookie_lists[DEFAULT_LANGUAGE]

    def _cookie_list(self, language: str) -> CookieListTexts:
        # Built-in words, then the policy's (`texts.<lang>.cookie_list`), key by key, each
        # table the language falls back to before its own (`_inherited`). The list is marked
        # with the most specific tag that wrote some of its words: a language the policy added
        # without list words (`it`) gets the English list, marked as English; a regional one
        # (`de-ch`, `zh-tw`), its language's or script's (`de`, `zh-hant`).
        # Each word's own language is kept: what the chosen tables leave out is another's.
        tags = _inherited(language)
        tag = DEFAULT_LANGUAGE
        words = dict(COOKIE_LIST_TEXTS[DEFAULT_LANGUAGE])
        written = dict.fromkeys(words, DEFAULT_LANGUAGE)
        tables = [(source, COOKIE_LIST_TEXTS.get(source)) for source in tags]
        tables += [(s, self.policy.texts.get(s, {}).get(COOKIE_LIST_TABLE)) for s in tags]
        for source, table in tables:
            if table:
                tag = source
                words.update(table)
                written.update(dict.fromkeys(table, source))
        labels: dict[str, str] = self.texts[tag].get("labels", {})
        return CookieListTexts(tag, words, labels, written)

    def _lookup(self, tag: str) -> str | None:
        """RFC 4647 lookup (`zh-hant-tw` tries `zh-hant` then `zh`; `de-ch-1996`, `de-ch`),
        with the aliases browsers send: `zh-tw` finds `zh-hant` before `zh`, `iw` finds `he`."""
        return languages.lookup(tag, self.texts)

    def fragment(self, language: str, next_path: str, consent: Consent | None = None) -> str:
        return self.default.fragment(language, next_path, consent)

    def snippet(
        self,
        language: str,
        next_path: str,
        consent: Consent | None = None,
        nonces: Nonces = (None, None),
    ) -> str:
        return self.default.snippet(language, next_path, consent, nonces)

    def _category_rows(self, lang: str) -> tuple[CategoryRow, ...]:
        # Consent.gpc is one flag for either signal: only the gate knows which it honours.
        refused_key = "gpc_dnt_refused" if self.honor_dnt else "gpc_refused"
        rows = []
        for category in self.policy.categories:
            if category.required:
                fixed = self._category_row(category, lang, " checked disabled", "always_on")
                rows.append(CategoryRow(category.name, False, fixed, fixed, fixed))
                continue
            rows.append(
                CategoryRow(
                    category.name,
                    category.gpc_opt_out,
                    unticked=self._category_row(category, lang, "", None),
                    ticked=self._category_row(category, lang, " checked", None),
                    refused=self._category_row(category, lang, " disabled", refused_key),
                )
            )
        return tuple(rows)

    def _category_row(
        self, category: Category, lang: str, state: str, status_key: str | None
    ) -> str:
        """One box. It stays inside its <label> with the description, so that a click on any of
        its words ticks it, but its accessible name is the category's label and status alone
        (`aria-labelledby`), its description the description (`aria-describedby`): the whole
        label as its name was read out on every arrow key."""
        texts = self.texts[lang]
        labels: dict[str, str] = texts.get("labels", {})
        descriptions: dict[str, str] = texts.get("descriptions", {})
        description = descriptions.get(category.name, category.description)
        # One of invisible characters alone (a Hangul filler, a zero-width space) is none:
        # as the box's description a screen reader said "Hangul filler".
        if is_blank(description):
            description = ""
        description_id = _row_id("description", self._id_token, lang, category.name)
        return self._category.substitute(
            name=escape(category.name),
            state=state,
            label_id=_row_id("label", self._id_token, lang, category.name),
            described=f' aria-describedby="{description_id}"' if description else "",
            description_id=description_id,
            label=escape(labels.get(category.name, category.name.capitalize())),
            status=self._status(lang, status_key, texts),
            description=escape(description),
        ).strip()

    def _status(self, lang: str, key: str | None, texts: dict[str, Any]) -> str:
        """A box's note (" (always on)"), in a span of its own language when not the banner's."""
        if key is None:
            return ""
        note = escape(f" ({texts[key]})")
        marked = self.marked(lang, key)
        return f"<span{marked}>{note}</span>" if marked else note

    def _render(self, lang: str, url_prefix: str) -> str:
        """The banner for `lang`, with markers where `next` and the category boxes go.

        The category form's first submit button is a hidden one of `formmethod="dialog"`,
        which outside a <dialog> submits nothing: Enter on a checkbox (HTML's implicit
        submission, which clicks the form's first enabled submit button) saved the boxes as
        they stood, a choice the visitor never made with "Save choices".
        """
        texts = self.texts[lang]
        values = {key: escape(texts[key]) for key in DEFAULT_TEXTS[DEFAULT_LANGUAGE]}
        for key in DEFAULT_TEXTS[DEFAULT_LANGUAGE]:
            if key.startswith("saved_"):  # said later by banner.js's live region: carried as data
                saved_language = ("data-cookiewall-saved-lang", "data-cookiewall-saved-dir")
                values[f"{key}_lang"] = self.marked(lang, key, saved_language)
            else:
                values[f"{key}_lang"] = self.marked(lang, key)
        # No intro (`intro = ""`, or one of spaces alone): no paragraph either, rather than an
        # empty one, which a screen reader's arrow keys stop on and say "blank".
        intro = f'<p class="cookiewall-intro"{values["intro_lang"]}>{values["intro"]}</p>\n'
        values["intro"] = "" if is_blank(texts["intro"]) else intro
        return self._page.substitute(
            values,
            policy_version=escape(self.policy.version),
            lang=escape(lang),
            title_id=f"{self._title_id}-{lang}",
            # Always said, ltr too: an English banner on a right-to-left page stays English.
            dir=direction(lang),
            action=escape(url_prefix),
            next=self._marker,
            categories=self._rows_marker,
            details_url=escape(f"{url_prefix}/cookies?format=html{self._details_language(lang)}"),
        ).strip()

    def _details_language(self, lang: str) -> str:
        # Only where the banner's language may not be the visitor's: the link stays as it
        # was for a banner that follows Accept-Language, as the cookie list does.
        return f"&lang={quote(lang)}" if self.language_in_links else ""


# -- a page's CSP nonces, for the injected script and stylesheet ------------------------------

Nonces = tuple[str | None, str | None]  # (for the script, for the stylesheet link)

# CSP3 base64-value: a nonce is only ever these characters, so it cannot end the attribute.
_NONCE_VALUE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_NONCE_PREFIX = "'nonce-"
# Which directive governs a <script src> and a <link rel=stylesheet>: the first one present.
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
_STYLE_DIRECTIVES = ("style-src-elem", "style-src", "default-src")


def csp_nonces(enforced: Iterable[bytes], report_only: Iterable[bytes] = ()) -> Nonces:
    """The nonces a page's CSP header values give its scripts and its stylesheets.

    Under a nonce-based CSP (Google's strict `script-src 'nonce-…' 'strict-dynamic'`) the
    injected `<script src>` without the page's nonce was blocked, and the banner never moved
    to the start of the page. Only a nonce the page's own policy names is used, never one
    made up, and only one made of base64 characters (a header cannot add markup). Enforced
    policies come first; failing those, a report-only one, whose nonce keeps the banner's
    script out of the site's violation reports (a nonce blocks nothing where none is needed).
    """
    script = style = None
    for values in (enforced, report_only):
        for value in values:
            for policy in value.decode("latin-1").split(","):
                directives = _directives(policy)
                script = script or _nonce_in(directives, _SCRIPT_DIRECTIVES)
                style = style or _nonce_in(directives, _STYLE_DIRECTIVES)
            if script and style:
                # Both found: `enforced` may be lazy (the page's <meta> policies after the
                # headers), and what follows is then never read.
                return script, style
        if script or style:
            break
    return script, style


def _directives(policy: str) -> dict[str, list[str]]:
    """A serialized policy's directives by lower-cased name; a repeated one is ignored (CSP3)."""
    found: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        tokens = directive.split()
        if tokens and tokens[0].lower() not in found:
            found[tokens[0].lower()] = tokens[1:]
    return found


def _nonce_in(directives: dict[str, list[str]], governing: tuple[str, ...]) -> str | None:
    for name in governing:
        sources = directives.get(name)
        if sources is None:
            continue
        for source in sources:
            if source[: len(_NONCE_PREFIX)].lower() == _NONCE_PREFIX and source.endswith("'"):
                value = source[len(_NONCE_PREFIX) : -1]
                if _NONCE_VALUE.fullmatch(value):
                    return value
        return None  # the governing directive has no usable nonce: the next does not apply
    return None


def _nonce_attribute(nonce: str | None) -> str:
    return f' nonce="{escape(nonce)}"' if nonce else ""


def inject(body: bytes, snippet: bytes) -> bytes | None:
    """Insert `snippet` before the page's last real </body>; None when it cannot go in.

    Real: in any case (`</BODY>` too), and not text of a script, a style, a comment or any
    other element whose content the browser reads as text, nor inside a <template> (whose
    content is never shown). A `</body>` in a script's string got the banner inside the
    string (its own `</script>` then ended the page's script); in a comment after the page,
    inside the comment.

    A whole document may leave </body> out (HTML makes the end tags optional): the snippet
    then goes before its real </html>, or at its end (before a comment or text element the
    page leaves open, which would take it in). So does a page whose every </body> is in a
    comment. A fragment (htmx, fetch) is left alone.
    """
    at = _plain_body_end(body)
    if at < 0:
        found = _markup_ends(body)
        at = found.body_end
        if at < 0:
            if not (found.commented_body_end or _is_document(body[:_DOCUMENT_START_READ].lower())):
                return None
            ends = (found.html_end, found.left_open)
            at = next((end for end in ends if end >= 0), len(body))
    # One copy: slicing the page first copied it twice (up to 1 MiB held, so 4 MiB at once).
    page = memoryview(body)
    return b"".join((page[:at], snippet, page[at:]))


# After a page's real </body>: at most its </html>, and white space (HTML's).
_PLAIN_PAGE_END = re.compile(rb"[ \t\n\f\r]*(?:</html>[ \t\n\f\r]*)?", re.IGNORECASE)


def _plain_body_end(body: bytes) -> int:
    """Where the last </body> starts, for the usual page that ends `</body></html>`; else -1.

    Found from the end: such a </body> is no script's or comment's text (which would be
    closed after it), so the page need not be read through. The one page this misjudges
    leaves a comment or text element open to its very end, after a </body></html> in it.
    """
    exact = body.rfind(b"</body>")
    # Another spelling can only follow the last exact one: mostly just </html> to lower-case.
    later = body[exact + 1 :].lower().rfind(b"</body>")
    at = exact + 1 + later if later >= 0 else exact
    if at >= 0 and _PLAIN_PAGE_END.fullmatch(body, at + len(b"</body>")):
        return at
    return -1


@dataclass(frozen=True, slots=True)
class _MarkupEnds:
    body_end: int  # where the last real </body> starts, else -1
    html_end: int  # where the last real </html> starts, else -1
    left_open: int  # where a comment or text element the page never closes starts, else -1
    commented_body_end: bool  # some </body> is in a comment


# Elements whose content HTML's tokenizer reads as text up to their own end tag (raw text and
# RCDATA; <noscript> too, in a browser that runs scripts): a `</body>` in them is text.
_TEXT_ELEMENTS: tuple[bytes, ...] = (b"script", b"style", b"textarea", b"title", b"xmp")
_TEXT_ELEMENTS += (b"iframe", b"noembed", b"noframes", b"noscript")
_TAG_NAME_END = rb"[\t\n\f\r />]"
# Only what changes where the page's end can be; one pass over the page, whatever its size.
_MARKUP = re.compile(
    rb"<(?:(!--)|/(body|html)>|(/?template)"
    + _TAG_NAME_END
    + rb"|("
    + b"|".join(_TEXT_ELEMENTS)
    + rb"|plaintext)"
    + _TAG_NAME_END
    + rb")"
)
_COMMENT_END = re.compile(rb"--!?>")  # "<!-->" and "<!--->" are whole (empty) comments
_TEXT_END = {name: re.compile(rb"</" + name + _TAG_NAME_END) for name in _TEXT_ELEMENTS}


def _markup_ends(body: bytes) -> _MarkupEnds:
    """Where the page's real </body> and </html> are, read as HTML's tokenizer reads them.

    Linear: one regular-expression pass over the page, which skips the content of a comment
    or text element by searching on from its start for its end. Attributes are not parsed: a
    `<script` written inside an attribute's value is taken for a tag, which no real page
    does. A `<script>` that writes `<!--<script>` into itself (HTML's "double-escaped" script
    data) is read as ending at its first `</script>`.
    """
    lowered = body.lower()
    body_end = html_end = left_open = -1
    commented = False
    templates = 0  # how deep in <template>: content there is parsed but never shown
    at = 0
    while (tag := _MARKUP.search(lowered, at)) is not None:
        comment, end_tag, template, text = tag.groups()
        at = tag.end()
        if end_tag is not None:
            if templates:
                continue
            if end_tag == b"body":
                body_end = tag.start()
            else:
                html_end = tag.start()
            continue
        if template is not None:
            templates = templates + 1 if template == b"template" else max(templates - 1, 0)
            continue
        if comment is not None:
            closed = _COMMENT_END.search(lowered, tag.start() + 2)
        elif text != b"plaintext":
            closed = _TEXT_END[text].search(lowered, at)
        else:
            closed = None  # everything after <plaintext> is text
        if closed is None:
            left_open = tag.start()
            commented = commented or (comment is not None and b"</body>" in lowered[at:])
            break
        if comment is not None and not commented:
            commented = lowered.find(b"</body>", at, closed.start()) >= 0
        at = closed.end()
    return _MarkupEnds(body_end, html_end, left_open, commented)


def _is_document(lowered: bytes) -> bool:
    """Whether a lower-cased body starts as a whole HTML document (see `_document_verdict`)."""
    return _document_verdict(lowered[:_DOCUMENT_START_READ], complete=True) is True


def document_start(first: bytes, complete: bool) -> bool | None:
    """Whether a page whose first bytes are `first` starts as a whole document (`inject`'s
    rule, on the same first bytes); None while more bytes could still change the answer.

    `complete`: there are no more bytes. A stream is told from a fragment by this, as soon as
    its first bytes can tell, so that its start (which then loses its validators and length)
    goes out without waiting for the rest.
    """
    lowered = first[:_DOCUMENT_START_READ].lower()
    return _document_verdict(lowered, complete or len(lowered) == _DOCUMENT_START_READ)


def _document_verdict(lowered: bytes, complete: bool) -> bool | None:
    """`document_start` on lower-cased first bytes: as HTML's tokenizer reads a page's start,
    a byte-order mark, white space, comments and an XML declaration (`<?xml ...?>`, which it
    reads as a comment: XHTML served as text/html opens so) come before the doctype, whose
    name may follow any white space (`<!DOCTYPE\nhtml PUBLIC ...>`)."""
    if not complete and len(lowered) < len(_BOM) and _BOM.startswith(lowered):
        return None  # a byte-order mark, or the start of one
    head = lowered.removeprefix(_BOM).lstrip()
    while head.startswith((b"<!--", b"<?")):
        comment = head.startswith(b"<!--")
        end = head.find(b"-->") if comment else head.find(b">")
        if end < 0:
            return None if not complete else False  # not yet closed
        head = head[end + (3 if comment else 1) :].lstrip()
    if _DOCUMENT_START.match(head):
        return True
    if complete:
        return False
    if any(start.startswith(head) for start in (b"<!doctype", b"<html", b"<!--", b"<?")):
        return None  # white space, or a start that more bytes may complete
    # "<!doctype" and white space, then maybe the start of "html": more bytes may tell.
    name = head.removeprefix(b"<!doctype")
    spaced = len(name) < len(head) and name[:1] in _DOCTYPE_SPACES
    return None if spaced and b"html".startswith(name.lstrip(b"\t\n\f\r ")) else False


_BOM = b"\xef\xbb\xbf"
_DOCUMENT_START = re.compile(rb"<!doctype[\t\n\f\r ]+html|<html")
_DOCTYPE_SPACES = (b"\t", b"\n", b"\f", b"\r", b" ")
_BODY_END_TAG = b"</body>"
_HTML_END_TAG = b"</html>"
_HTML_WHITE_SPACE = re.compile(rb"[ \t\n\f\r]*")
# What the searches below look for, less the byte after a tag's name (a match has it): the
# end of what has come, from one of these starts on, may be a match cut in two.
_MARKUP_STARTS: tuple[bytes, ...] = (
    b"<!--",
    _BODY_END_TAG,
    b"</html>",
    b"<template",
    b"</template",
    b"<plaintext",
)
_MARKUP_STARTS += tuple(b"<" + name for name in _TEXT_ELEMENTS)
_COMMENT_ENDS: tuple[bytes, ...] = (b"-->", b"--!>")
_TEXT_ENDS = {name: (b"</" + name,) for name in _TEXT_ELEMENTS}
# Where `BodyEndScanner` is in the page: in markup, or in text that only its end tag ends.
_IN_MARKUP, _IN_COMMENT, _IN_TEXT, _IN_PLAINTEXT = range(4)
# What follows the last </body> so far, read as `_PLAIN_PAGE_END`: white space (0), `k`
# bytes of </html> (1 + k), then white space after it (_AFTER_HTML_END); _NOT_PLAIN: more.
_AFTER_HTML_END = 1 + len(_HTML_END_TAG)
_NOT_PLAIN = -1
# Lower-cased bytes kept before the end of what has come, at least: more than any of the
# starts above, which `_unread` looks for there. The reading resumes no further back. Those
# read are let go once there are this many: not at each piece, which costs a copy each.
_LOWERED_KEPT = 16
_LOWERED_READ_KEPT = 32 * 1024
_SMALL_REST = 256  # bytes of a piece held after the rest went on: copied, not viewed


class BodyEndScanner:
    """Where `inject` puts the banner in a whole document that comes in pieces (a streamed
    page), read piece by piece: most of the page goes on as it comes.

    `feed` takes each piece and gives back what can go on: everything before the first
    byte that may still be where the banner goes. That is the page's last real </body> so far
    (a later one releases it), or, while there is none, its last real </html>, or the start
    of a comment or text element not yet closed (`inject`'s fallbacks), or the last </body>
    of any kind followed by nothing but white space and </html> (`inject`'s quick reading);
    and the last few bytes, which may be the start of a tag split between pieces. `finish`
    gives back the rest with the snippet in, where `inject` would put it in the whole page;
    `insert_now` puts it before the last real </body> so far (see the middleware's bound).

    The reading is `_markup_ends`' own, resumed where each piece ended: linear in the page.
    What is held is the app's own pieces (the first maybe cut), not a copy: bytes go on in one
    copy, or none when a piece goes on whole; only the bytes from where the reading resumes
    (and up to 32 KiB read before) are kept lower-cased. So the memory a page takes here is
    what it holds, and once more as that goes on (the middleware bounds what is held).
    """

    __slots__ = (
        "_base",
        "_body_end",
        "_floor",
        "_forgone",
        "_held",
        "_held_size",
        "_html_end",
        "_lbase",
        "_lowered",
        "_mode",
        "_open_at",
        "_plain",
        "_plain_at",
        "_plain_read",
        "_plain_search",
        "_read",
        "_templates",
        "_text_end",
        "_text_ends",
    )

    def __init__(self) -> None:
        self._held: deque[bytes | memoryview] = deque()  # the page from `_base` on, in pieces
        self._held_size = 0
        self._base = 0  # where `_held` starts in the page
        self._lowered = bytearray()  # the page from `_lbase` on, lower-cased: what is searched
        self._lbase = 0  # before where the readings resume, by at most `_LOWERED_READ_KEPT`
        self._read = 0  # where the reading resumes (a position in the page, as all below)
        self._mode = _IN_MARKUP
        self._text_end = _COMMENT_END  # what ends the text being read (not in markup)
        self._text_ends = _MARKUP_STARTS  # what the search of the moment looks for
        self._open_at = -1  # where that comment or text element starts
        self._templates = 0
        self._body_end = -1
        self._html_end = -1
        self._plain_at = -1  # the last </body> of any kind, and how what follows it reads
        self._plain = _NOT_PLAIN
        self._plain_read = 0  # what `_plain` has read up to
        self._plain_search = 0  # where the search for a later </body> resumes
        self._floor = 0  # where the banner can still go: not before (see `forgo_held`)
        self._forgone = False  # and, once it is above 0, only before a </body>

    @property
    def held(self) -> int:
        """How many bytes are held back."""
        return self._held_size

    @property
    def has_body_end(self) -> bool:
        """Whether a real </body> has come: `insert_now` can put the snippet before it."""
        return self._body_end >= 0

    def feed(self, piece: bytes) -> bytes:
        """Take the page's next piece; give back the bytes that can go on now.

        `piece` is held as it is, not copied: bytes, not a buffer its sender fills again."""
        if piece:
            self._held.append(piece)
            self._held_size += len(piece)
            self._lowered += piece.lower()
        self._read_markup()
        self._read_plain_end()
        # Both readings resume at or after `_read` and `_plain_search`, a few bytes back.
        keep = min(self._read, self._plain_search)
        if keep - self._lbase > _LOWERED_READ_KEPT:
            start = min(keep, self._lbase + len(self._lowered) - _LOWERED_KEPT)
            del self._lowered[: start - self._lbase]
            self._lbase = start
        return self._release(min(self._insertion_points(), keep) - self._base)

    def finish(self, snippet: bytes) -> bytes:
        """The page's end: what is held, with `snippet` where `inject` puts it in the page."""
        at = self._plain_at if self._plain in (0, _AFTER_HTML_END) else -1
        if at < 0:
            at = self._body_end
        if at < 0 and not self._forgone:
            open_at = self._open_at if self._mode != _IN_MARKUP else -1
            at = next((end for end in (self._html_end, open_at) if end >= 0), self._end)
        if at < self._floor:
            return self.release()  # no </body> after what went on (`forgo_held`)
        return self._insert(at, snippet)

    def insert_now(self, snippet: bytes) -> bytes:
        """What is held, with `snippet` before the last real </body> so far (`has_body_end`)."""
        return self._insert(self._body_end, snippet)

    def release(self) -> bytes:
        """What is held, as it came: the page goes on without the banner."""
        return self._release(self._held_size)

    def forgo_held(self) -> bytes:
        """What is held, as it came, while there is no real </body> yet (`has_body_end`):
        the reading goes on, and the banner goes before a later </body> where `inject` puts
        it before one; a page that has none after this ends without the banner (`inject`'s
        fallbacks, its </html> or an element left open, may have gone on already).

        For the middleware's bound: a page holds that much with no real </body> only while a
        long text element (a <textarea>, a <script> of data) or comment is open, or after its
        </html>, where the banner would go only if the page had no </body> at all.
        """
        # Less a tag's start cut by the end of what has come: the reading resumes there.
        self._floor = min(self._read, self._plain_search)
        self._forgone = True
        return self._release(self._floor - self._base)

    @property
    def _end(self) -> int:
        return self._base + self._held_size

    def _insert(self, at: int, snippet: bytes) -> bytes:
        before = self._take(at - self._base)
        return b"".join((*before, snippet, *self._take(self._held_size)))

    def _release(self, count: int) -> bytes:
        if count <= 0:
            return b""
        held = self._held
        if count == self._held_size and len(held) == 1 and type(piece := held[0]) is bytes:
            # The usual page's piece, all of it: it goes on as the app sent it, not copied.
            held.clear()
            self._held_size = 0
            self._base += count
            return piece
        return b"".join(self._take(count))

    def _take(self, count: int) -> list[bytes | memoryview]:
        """The first `count` bytes held, as pieces (the last maybe cut), no longer held."""
        held = self._held
        taken: list[bytes | memoryview] = []
        self._held_size -= count
        self._base += count
        while count > 0:
            piece = held[0]
            if len(piece) <= count:
                taken.append(held.popleft())
                count -= len(piece)
            else:
                # Mostly a tag's start cut at a piece's end: a few bytes, copied (cheaper than
                # a view). A view keeps the app's whole piece: taken only for at least half
                # of it, so that a piece of MiBs is not kept for the bytes held after its
                # </body>; else a copy, which costs no more than those bytes.
                rest = len(piece) - count
                whole = len(cast(bytes, piece.obj)) if type(piece) is memoryview else len(piece)
                taken.append(memoryview(piece)[:count])
                if rest <= _SMALL_REST or 2 * rest < whole:
                    held[0] = bytes(piece[count:])
                else:
                    held[0] = memoryview(piece)[count:]
                count = 0
        return taken

    def _insertion_points(self) -> int:
        """The first byte that may still be where the banner goes, else the end."""
        points = [self._end]
        if self._plain != _NOT_PLAIN:
            points.append(self._plain_at)
        if self._body_end >= 0:
            points.append(self._body_end)
        elif self._forgone:
            pass  # the fallbacks below are given up (`forgo_held`): nothing to hold for them
        elif self._html_end >= 0:
            points.append(self._html_end)
        elif self._mode != _IN_MARKUP:
            points.append(self._open_at)
        floor = self._floor
        return min(point for point in points if point >= floor)

    def _read_markup(self) -> None:
        """`_markup_ends`' loop over what has come, from where it stopped."""
        lowered = self._lowered
        base = self._lbase
        while self._mode != _IN_PLAINTEXT:
            if self._mode != _IN_MARKUP:
                closed = self._text_end.search(lowered, self._read - base)
                if closed is None:
                    self._read = max(self._read, _unread(lowered, base, self._text_ends))
                    return
                self._read = base + closed.end()
                self._mode = _IN_MARKUP
                self._text_ends = _MARKUP_STARTS
                self._open_at = -1
                continue
            tag = _MARKUP.search(lowered, self._read - base)
            if tag is None:
                self._read = max(self._read, _unread(lowered, base, _MARKUP_STARTS))
                return
            comment, end_tag, template, text = tag.groups()
            self._read = base + tag.end()
            if end_tag is not None:
                if not self._templates:
                    if end_tag == b"body":
                        self._body_end = base + tag.start()
                    else:
                        self._html_end = base + tag.start()
            elif template is not None:
                depth = self._templates
                self._templates = depth + 1 if template == b"template" else max(depth - 1, 0)
            else:
                self._open_at = base + tag.start()
                if comment is not None:
                    self._mode, self._text_end = _IN_COMMENT, _COMMENT_END
                    self._text_ends = _COMMENT_ENDS
                    self._read = self._open_at + 2  # "<!-->" is a whole comment
                elif text != b"plaintext":
                    self._mode, self._text_end = _IN_TEXT, _TEXT_END[text]
                    self._text_ends = _TEXT_ENDS[text]
                else:
                    self._mode = _IN_PLAINTEXT  # everything after <plaintext> is text
        # Nothing more to read: the reading holds nothing back (it held all after the tag, so
        # a page that went on past the bound was held whole; `forgo_held` released nothing).
        self._read = self._lbase + len(lowered)

    def _read_plain_end(self) -> None:
        """`_plain_body_end`'s reading, kept up to date: the last </body> of any kind, and
        whether all after it is white space and at most one </html>."""
        lowered = self._lowered
        base = self._lbase
        start = self._plain_read - base
        found = lowered.rfind(_BODY_END_TAG, self._plain_search - base)
        if found >= 0:
            self._plain_at = base + found
            self._plain = 0
            start = found + len(_BODY_END_TAG)
        if self._plain != _NOT_PLAIN:
            self._plain = _plain_state(self._plain, lowered, start)
        self._plain_read = self._end
        # A </body> may end in the next piece: the search resumes where it may start.
        self._plain_search = max(self._plain_search, _unread(lowered, base, (_BODY_END_TAG,)))


def _unread(lowered: bytearray, base: int, starts: tuple[bytes, ...]) -> int:
    """Where the first of the last bytes that may begin one of `starts`, cut off by the end
    of what has come, is (all `starts` begin with the same byte); the end when none."""
    end = len(lowered)
    first = starts[0][:1]
    at = lowered.find(first, max(end - max(map(len, starts)), 0))
    while at >= 0:
        cut = bytes(lowered[at:])
        if any(start.startswith(cut) for start in starts):
            return base + at
        at = lowered.find(first, at + 1)
    return base + end


def _plain_state(state: int, lowered: bytearray, at: int) -> int:
    """The state (see `_AFTER_HTML_END`) after reading `lowered` from `at` in `state`."""
    end = len(lowered)
    while at < end:
        if state in (0, _AFTER_HTML_END):
            spaces = _HTML_WHITE_SPACE.match(lowered, at)
            at = spaces.end() if spaces is not None else at  # always matches: `*`
            if at == end:
                break
            if state == _AFTER_HTML_END:
                return _NOT_PLAIN
            state = 1
        wanted = _HTML_END_TAG[state - 1 :]
        got = lowered[at : at + len(wanted)]
        if not wanted.startswith(got):
            return _NOT_PLAIN
        state += len(got)
        at += len(got)
    return state


# -- a page's own <meta http-equiv="Content-Security-Policy"> ---------------------------------

# Only a <meta> that is a child of <head> is a policy (HTML 4.2.5.3): the reading stops at the
# first element that cannot be in the head (<body>, or a <p> or <div> that starts the body
# where <body> is left out), so a page's length does not matter. A <meta> in a comment, in a
# script's or style's text, a <noscript> (text, where scripts run) or a <template> is none.
_HEAD_SKIPPED = (b"script", b"style", b"title", b"noscript", b"template", b"noframes")
_HEAD_ELEMENTS = frozenset({b"html", b"head", b"meta", b"link", b"base", b"basefont", b"bgsound"})
_HEAD_MARKUP = re.compile(rb"<(?:(!--)|([a-z][^\t\n\f\r />]*))", re.IGNORECASE)
_HEAD_SKIPPED_END = {
    name: re.compile(rb"</" + name + _TAG_NAME_END, re.IGNORECASE) for name in _HEAD_SKIPPED
}
# One attribute as HTML's tokenizer reads it: a name (which may start with "="), then maybe
# "=" and a value in double quotes, single quotes or none, in any order and case.
_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*([^\t\n\f\r />][^\t\n\f\r /=>]*)"
    rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"([^\"]*)\"|'([^']*)'|([^\t\n\f\r >]*)))?"
)
_CSP = "content-security-policy"  # the http-equiv
# Tags and comments read before giving up: real heads have tens (a large one some hundreds),
# and a page made of <meta>s or comments alone would be read whole (1 MB: 150 ms).
_HEAD_TAGS_READ = 1000


def meta_policies(body: bytes) -> Iterator[bytes]:
    """The policies a page sets in its head with `<meta http-equiv="Content-Security-Policy">`.

    Static sites and many CMSs set their CSP so, where the gate sees no header: a nonce there
    is as binding on the injected script as a header's. Read lazily, from the page's start to
    the end of its head, skipping comments and the text of scripts and styles whole; the
    `content` comes out as the browser reads it (`&#39;nonce-…&#39;` is `'nonce-…'`).
    `-Report-Only` in a <meta> is ignored by browsers, and here.
    """
    for found in _read_head(body):
        if isinstance(found, tuple) and found[0] == b"meta":
            policy = _meta_policy(found[1])
            if policy is not None:
                yield policy


def page_language(start: bytes) -> str | None:
    """The language a page that begins with `start` names on its `<html>` start tag (its
    `lang`, lower-cased; "" for `lang=""`, which says the language is unknown), or None.

    Read as the browser reads it, as far as `meta_policies` reads: comments and the text of
    scripts and styles are skipped (a `lang` there is none), and where the first `<html>` tag
    has no `lang`, a later one in the head gives it (HTML's parser adds a repeated `<html>`'s
    attributes the first lacks). Only `lang` counts: `xml:lang` has no effect in an HTML
    document, and a `<body lang>` is the body's, not the page's. Mostly the doctype and one tag.
    """
    for found in _read_head(start):
        if isinstance(found, int):
            return None
        if found[0] == b"html" and (lang := _html_language(found[1])) is not None:
            return lang
    return None  # never reached: `_read_head` ends with where it stopped


def head_policies_and_language(start: bytes) -> tuple[list[bytes], str | None]:
    """`meta_policies` and `page_language` of a page that begins with `start`, in one reading
    of its head: a banner in the page's language needs both, and a head with no `lang` (or a
    long one after it) would otherwise be read twice."""
    policies: list[bytes] = []
    language = None
    for found in _read_head(start):
        if isinstance(found, int):
            break
        name, attributes = found
        if name == b"meta":
            policy = _meta_policy(attributes)
            if policy is not None:
                policies.append(policy)
        elif name == b"html" and language is None:
            language = _html_language(attributes)
    return policies, language


def _meta_policy(attributes: dict[bytes, bytes]) -> bytes | None:
    """The policy a `<meta>` with these attributes sets, if it sets one."""
    equiv = attributes.get(b"http-equiv")
    content = attributes.get(b"content")
    if equiv is not None and content is not None and _text(equiv).lower() == _CSP:
        return _text(content).encode("utf-8")
    return None


def _html_language(attributes: dict[bytes, bytes]) -> str | None:
    lang = attributes.get(b"lang")
    return None if lang is None else _text(lang).strip(" \t\n\f\r").lower()


def meta_head_end(start: bytes) -> int:
    """Where `meta_policies` stops reading a page that begins with `start`: the end of its
    head (or of the tags it reads at most), so that `start[:end]` has every policy the whole
    page has. -1 when `start` ends first (in a comment, a style, a tag): a streamed page's
    start is kept until this says its head has come."""
    for found in _read_head(start):
        if isinstance(found, int):
            return found
    return -1  # never reached: `_read_head` ends with where it stopped


def _read_head(body: bytes) -> Iterator[tuple[bytes, dict[bytes, bytes]] | int]:
    """`meta_policies`' reading: each start tag of the head's elements (lower-cased name and
    attributes, `<html>` and `<meta>` among them), then where the reading stopped (-1 when
    `body` ended before the head did)."""
    at = 0
    for _ in range(_HEAD_TAGS_READ):
        if (tag := _HEAD_MARKUP.search(body, at)) is None:
            yield -1
            return
        comment, name = tag.groups()
        at = tag.end()
        if at == len(body):
            yield -1  # a comment's or tag's start, cut: what it is is still to come
            return
        if comment is not None:
            closed = _COMMENT_END.search(body, tag.start() + 2)
        elif (name := name.lower()) in _HEAD_SKIPPED_END:
            closed = _HEAD_SKIPPED_END[name].search(body, at)
        elif name in _HEAD_ELEMENTS:
            # Read whole, so that a "<" in a quoted value is not taken for a tag.
            attributes, at = _attributes(body, at)
            if at == len(body):
                yield -1  # the tag goes on: a value read so far may be cut
                return
            yield name, attributes
            continue
        else:
            yield tag.start()  # the head is over
            return
        if closed is None:
            yield -1
            return
        at = closed.end()
    yield at


def _attributes(body: bytes, at: int) -> tuple[dict[bytes, bytes], int]:
    """A start tag's attributes from `at` (just after its name) by lower-cased name, and
    where they end; the first of a repeated name counts, as in HTML."""
    found: dict[bytes, bytes] = {}
    while (attribute := _ATTRIBUTE.match(body, at)) is not None:
        name, *values = attribute.groups()
        found.setdefault(name.lower(), next((v for v in values if v is not None), b""))
        at = attribute.end()
    return found, at


def _text(value: bytes) -> str:
    # Character references resolved as HTML does; a nonce is ASCII, so the page's own charset
    # does not matter to what is read here.
    return unescape(value.decode("latin-1"))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
