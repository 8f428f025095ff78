"""The cookie list (`/consent/cookies?format=html`, the banner's "Cookie details" link) speaks
the banner's language: the same Accept-Language choice, English when there is none to match.
The JSON declaration stays as it is (machine-readable, English)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from cookiewall import Category, Policy
from tests.test_cookiewall_support import VERSION, call, make_app, make_policy

URL = "/consent/cookies?format=html"
PAGE = {"sec-fetch-dest": "document"}  # a browser following the link: a whole page

# What each language calls the parts of the list; rows come from the policy as written.
WORDS = {
    "en": {
        "caption": f"Cookies (policy version {VERSION})",
        "headers": ["Category", "Cookie", "Purpose", "Domain", "Path"],
        "consent": "stores your consent choice (strictly necessary)",
        "undeclared": ["(undeclared)", "stray", "seen on this site, not in the policy"],
        "necessary": "Necessary",
        # A host-only cookie's Domain, and an undeclared one's Domain and Path: an empty cell
        # was read by screen readers as "blank".
        "host_only": "this site only",
        "unknown": "unknown",
    },
    "de": {
        "caption": f"Cookies (Richtlinienversion {VERSION})",
        "headers": ["Kategorie", "Cookie", "Zweck", "Domain", "Pfad"],
        "consent": "speichert Ihre Einwilligungsentscheidung (unbedingt erforderlich)",
        "undeclared": [
            "(nicht deklariert)",
            "stray",
            "auf dieser Website gesehen, nicht in der Richtlinie",
        ],
        "necessary": "Notwendig",
        "host_only": "nur diese Website",
        "unknown": "unbekannt",
    },
    "fr": {
        "caption": f"Cookies (version de la politique {VERSION})",
        "headers": ["Catégorie", "Cookie", "Finalité", "Domaine", "Chemin"],
        "consent": "enregistre votre choix de consentement (strictement nécessaire)",
        "undeclared": ["(non déclaré)", "stray", "vu sur ce site, absent de la politique"],
        "necessary": "Strictement nécessaires",
        "host_only": "ce site uniquement",
        "unknown": "inconnu",
    },
}


def _cells(*cells: str) -> str:
    return "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)


def _headers(accept_language: str | None, **more: str) -> dict[str, str]:
    headers = dict(more)
    if accept_language is not None:
        headers["accept-language"] = accept_language
    return headers


LOOKUPS = [
    ("de", "de"),
    ("fr", "fr"),
    ("en", "en"),
    (None, "en"),
    ("it", "en"),  # a language nobody wrote texts for
    ("de-CH", "de"),  # a regional tag finds its language (RFC 4647 lookup)
    ("fr-CA, de;q=0.5", "fr"),
    ("it, de;q=0.8, fr;q=0.9", "fr"),
    ("de;q=0, fr", "fr"),
    ("*", "en"),
    ("zh-Hant-TW", "en"),
    ("DE-de", "de"),
    # Malformed headers are no reason to fail: the banner's parser copes, so does the list.
    (";;;,,, ,de-DE", "de"),
    ("de;q=abc, fr", "fr"),
    ("x" * 600, "en"),
    ("-, de--CH", "de"),
]


@pytest.mark.parametrize(("accept_language", "language"), LOOKUPS)
def test_the_table_speaks_the_banners_language(accept_language: str | None, language: str) -> None:
    app = make_app()
    call(app, "GET", "/?set=stray")  # a cookie the policy does not declare
    headers = _headers(accept_language)
    response = call(app, "GET", URL, headers=headers)
    assert response.status_code == 200
    words = WORDS[language]
    text = response.text
    assert f'<table class="cookiewall-declaration" lang="{language}">' in text
    assert f"<caption>{html.escape(str(words['caption']))}</caption>" in text
    assert "".join(f'<th scope="col">{h}</th>' for h in words["headers"]) in text
    host_only, unknown = str(words["host_only"]), str(words["unknown"])
    consent = _cells(str(words["necessary"]), "cookiewall", str(words["consent"]), host_only, "/")
    assert consent in text
    assert _cells(*words["undeclared"], unknown, unknown) in text
    assert "<td></td>" not in text
    # The same language as the banner the visitor came from.
    banner = call(app, "GET", "/consent/banner", headers=headers)
    assert banner.headers["content-language"] == language
    assert response.headers["content-language"] == language
    # What the policy wrote (a purpose, a domain) stays as written.
    assert f"<td>colour scheme</td>{_cells(host_only)}<td>/</td>" in text
    assert "<td>Google Analytics</td><td>.example.com</td>" in text


@pytest.mark.parametrize(("accept_language", "language"), LOOKUPS)
def test_the_page_around_the_table_is_in_that_language(
    accept_language: str | None, language: str
) -> None:
    response = call(make_app(), "GET", URL, headers=_headers(accept_language, **PAGE))
    assert response.status_code == 200
    caption = html.escape(str(WORDS[language]["caption"]))
    assert response.text.startswith(f'<!doctype html><html lang="{language}">')
    assert f"<title>{caption}</title>" in response.text
    assert f"<main><h1>{caption}</h1>" in response.text


@pytest.mark.parametrize("navigated", [False, True], ids=["fragment", "page"])
def test_caches_keep_one_copy_per_language(navigated: bool) -> None:
    headers = _headers("de", **(PAGE if navigated else {}))
    response = call(make_app(), "GET", URL, headers=headers)
    vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert {"accept-language", "sec-fetch-dest"} <= vary


@pytest.mark.parametrize("accept_language", ["de", "fr", "it", None])
def test_the_json_declaration_does_not_change_with_the_language(
    accept_language: str | None,
) -> None:
    app = make_app()
    english = call(app, "GET", "/consent/cookies")
    response = call(app, "GET", "/consent/cookies", headers=_headers(accept_language))
    assert response.content == english.content
    assert response.json()["consent_cookie"]["purpose"] == WORDS["en"]["consent"]
    assert "accept-language" not in response.headers.get("vary", "").lower()


def test_a_policys_own_regional_texts_lead_to_the_list_in_their_language() -> None:
    # The policy adds Swiss German banner texts: a de-CH visitor gets them on the banner
    # (de-ch) and the German cookie list.
    policy = make_policy(texts={"de-CH": {"title": "Cookies auf dieser Webseite"}})
    app = make_app(policy=policy)
    headers = {"accept-language": "de-CH"}
    assert call(app, "GET", "/consent/banner", headers=headers).headers["content-language"] == (
        "de-ch"
    )
    response = call(app, "GET", URL, headers=headers)
    assert '<table class="cookiewall-declaration" lang="de">' in response.text
    assert '<th scope="col">Kategorie</th>' in response.text


def test_a_banner_language_without_list_texts_gives_an_english_list_marked_english() -> None:
    # Italian banner texts from the policy; the list has none in Italian, so it is English,
    # and says so (lang="en"), rather than English text marked as Italian.
    policy = Policy(
        version="1",
        categories=[Category("necessary", required=True), Category("analytics")],
        texts={"it": {"title": "Cookie su questo sito", "labels": {"analytics": "Statistiche"}}},
    )
    app = make_app(policy=policy)
    headers = {"accept-language": "it", **PAGE}
    assert call(app, "GET", "/consent/banner", headers=headers).headers["content-language"] == (
        "it"
    )
    response = call(app, "GET", URL, headers=headers)
    assert response.headers["content-language"] == "en"
    assert response.text.startswith('<!doctype html><html lang="en">')
    assert "<caption>Cookies (policy version 1)</caption>" in response.text
    assert "Statistiche" not in response.text  # an Italian label does not stray into it


def test_category_labels_given_by_the_policy_name_the_rows() -> None:
    # The banner's labels per language, the policy's own first, name the category column.
    policy = make_policy(texts={"de": {"labels": {"preferences": "Einstellungen"}}})
    response = call(make_app(policy=policy), "GET", URL, headers={"accept-language": "de"})
    assert (
        _cells("Einstellungen", "theme", "colour scheme", "nur diese Website", "/") in response.text
    )
    english = call(make_app(policy=policy), "GET", URL, headers={"accept-language": "en"})
    assert _cells("Preferences", "theme", "colour scheme", "this site only", "/") in english.text


# A whole Italian cookie list, as a site in a language cookiewall does not ship writes it.
ITALIAN_LIST = {
    "caption": "Cookie (versione della politica {version})",
    "category": "Categoria",
    "cookie": "Cookie",
    "purpose": "Finalità",
    "domain": "Dominio",
    "path": "Percorso",
    "consent_cookie": "memorizza la tua scelta sul consenso (strettamente necessario)",
    "strictly_necessary": "strettamente necessario",
    "undeclared": "(non dichiarato)",
    "undeclared_purpose": "visto su questo sito, non nella politica",
}


def _policy(texts: dict[str, Any]) -> Policy:
    return make_policy(texts=texts)


def _list(policy: Policy, accept_language: str, **headers: str) -> Any:
    app = make_app(policy=policy)
    call(app, "GET", "/?set=stray")  # a cookie the policy does not declare
    return call(app, "GET", URL, headers={"accept-language": accept_language, **headers})


# --- the cookie list's words come from the policy, like the banner's ---------------------


def test_a_site_in_an_unshipped_language_translates_the_whole_cookie_list() -> None:
    policy = _policy({"it": {"title": "Cookie su questo sito", "cookie_list": ITALIAN_LIST}})
    response = _list(policy, "it", **PAGE)
    assert response.status_code == 200
    text = response.text
    assert response.headers["content-language"] == "it"
    assert text.startswith('<!doctype html><html lang="it">')
    assert '<table class="cookiewall-declaration" lang="it">' in text
    assert f"<caption>Cookie (versione della politica {policy.version})</caption>" in text
    headers = ["Categoria", "Cookie", "Finalità", "Dominio", "Percorso"]
    assert "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers) in text
    assert html.escape(ITALIAN_LIST["consent_cookie"]) in text
    assert "<td>(non dichiarato)</td><td>stray</td>" in text
    for english in ("Category", "Purpose", "policy version", "(undeclared)"):
        assert english not in text


@pytest.mark.parametrize(
    ("texts", "accept_language", "language", "present", "absent"),
    [
        # A shipped language, one word changed: the rest stays German.
        (
            {"de": {"cookie_list": {"purpose": "Verwendungszweck"}}},
            "de",
            "de",
            ['<th scope="col">Verwendungszweck</th>', '<th scope="col">Kategorie</th>'],
            ['<th scope="col">Zweck</th>'],
        ),
        # English itself can be reworded.
        (
            {"en": {"cookie_list": {"caption": "Our cookies ({version})"}}},
            "en",
            "en",
            ["<caption>Our cookies (2026-01-01)</caption>"],
            ["policy version"],
        ),
        # A regional variant: its own words, the rest from its language.
        (
            {"de-CH": {"cookie_list": {"path": "Pfad (CH)"}}},
            "de-CH",
            "de-ch",
            ['<th scope="col">Pfad (CH)</th>', '<th scope="col">Kategorie</th>'],
            [],
        ),
        # A language's words reach its regional visitors without regional texts.
        (
            {"it": {"cookie_list": ITALIAN_LIST}},
            "it-CH",
            "it",
            ['<th scope="col">Percorso</th>'],
            [],
        ),
        # Partly translated: what is missing is English, under the policy's language tag,
        # each English word marked as such.
        (
            {"it": {"cookie_list": {"category": "Categoria"}}},
            "it",
            "it",
            ['<th scope="col">Categoria</th>', '<th scope="col" lang="en" dir="ltr">Purpose</th>'],
            [],
        ),
        # Other languages are untouched by one language's words.
        (
            {"it": {"cookie_list": ITALIAN_LIST}},
            "fr",
            "fr",
            ['<th scope="col">Finalité</th>', '<th scope="col">Chemin</th>'],
            ["Percorso"],
        ),
    ],
    ids=["de-one-word", "en-caption", "de-ch", "it-ch", "it-partial", "fr-untouched"],
)
def test_policy_list_words_override_the_built_in_ones_key_by_key(
    texts: dict[str, Any],
    accept_language: str,
    language: str,
    present: list[str],
    absent: list[str],
) -> None:
    policy = Policy(
        version="2026-01-01",
        categories=[Category("necessary", required=True), Category("analytics")],
        texts=texts,
    )
    response = _list(policy, accept_language)
    assert response.status_code == 200
    assert response.headers["content-language"] == language
    assert f'<table class="cookiewall-declaration" lang="{language}">' in response.text
    for fragment in present:
        assert fragment in response.text
    for fragment in absent:
        assert fragment not in response.text


def test_list_words_are_escaped_like_every_configured_text() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    policy = _policy({"it": {"cookie_list": {"purpose": hostile, "caption": hostile}}})
    text = _list(policy, "it", **PAGE).text
    assert "<img" not in text
    assert html.escape(hostile) in text


def test_the_toml_policy_takes_the_list_words_too(tmp_path: Path) -> None:
    lines = [
        'version = "3"',
        "[[categories]]",
        'name = "necessary"',
        "required = true",
        "[texts.it]",
        'title = "Cookie su questo sito"',
        "[texts.it.cookie_list]",
        *(f'{key} = "{value}"' for key, value in ITALIAN_LIST.items()),
    ]
    path = tmp_path / "policy.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    response = _list(Policy.from_toml(path), "it", **PAGE)
    assert response.headers["content-language"] == "it"
    assert "<caption>Cookie (versione della politica 3)</caption>" in response.text


def test_the_json_declaration_stays_english_whatever_the_policy_translates() -> None:
    policy = _policy({"it": {"cookie_list": ITALIAN_LIST}})
    app = make_app(policy=policy)
    body = call(app, "GET", "/consent/cookies", headers={"accept-language": "it"}).json()
    assert body["consent_cookie"]["purpose"] == ("stores your consent choice (strictly necessary)")


BAD_LIST_TEXTS = [
    ({"cookie_list": {"captoin": "x"}}, "texts.it.cookie_list: unknown keys captoin"),
    ({"cookie_list": {"purpose": 3}}, "texts.it.cookie_list.purpose must be a string"),
    ({"cookie_list": "Cookie"}, "texts.it.cookie_list must be a table"),
    ({"cookie_list": {"caption": "Cookie {versione}"}}, "texts.it.cookie_list.caption"),
    ({"cookie_list": {"caption": "Cookie {"}}, "texts.it.cookie_list.caption"),
    ({"cookie_list": {"caption": "Cookie {0}"}}, "texts.it.cookie_list.caption"),
    ({"cookie_list": {"caption": "{version.__class__}"}}, "texts.it.cookie_list.caption"),
    ({"cookie_list": {"caption": "{version!r}"}}, "texts.it.cookie_list.caption"),
]


@pytest.mark.parametrize(("table", "message"), BAD_LIST_TEXTS)
def test_bad_list_words_are_a_clear_value_error(table: dict[str, Any], message: str) -> None:
    # A caption with a stray placeholder would otherwise be a KeyError (a 500) on every
    # visit to the list.
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        _policy({"it": table})


def test_an_unknown_list_key_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: ") as raised:
        _policy({"it": {"cookie_list": {"captoin": "x"}}})
    for key in ITALIAN_LIST:
        assert key in str(raised.value)


def test_a_caption_may_leave_the_version_out_or_show_braces_doubled() -> None:
    policy = _policy({"it": {"cookie_list": {"caption": "Cookie {{tutti}}"}}})
    assert "<caption>Cookie {tutti}</caption>" in _list(policy, "it").text


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_every_built_in_list_word_can_be_overridden_by_name(language: str) -> None:
    from cookiewall.banner import COOKIE_LIST_TEXTS
    from cookiewall.policy import COOKIE_LIST_KEYS

    assert set(COOKIE_LIST_TEXTS[language]) == COOKIE_LIST_KEYS


ARABIC_LIST = {"caption": "ملفات تعريف الارتباط (الإصدار {version})", "purpose": "الغرض"}


@pytest.mark.parametrize("navigated", [True, False], ids=["page", "fragment"])
def test_a_right_to_left_cookie_list_says_so(navigated: bool) -> None:
    # A policy can now word the list in Arabic: laid out left to right, its columns ran the
    # wrong way and its punctuation sat on the wrong side.
    policy = _policy({"ar": {"title": "ملفات تعريف الارتباط", "cookie_list": ARABIC_LIST}})
    text = _list(policy, "ar", **(PAGE if navigated else {})).text
    assert '<table class="cookiewall-declaration" lang="ar" dir="rtl">' in text
    if navigated:
        assert text.startswith('<!doctype html><html lang="ar" dir="rtl">')


@pytest.mark.parametrize("accept_language", ["en", "de", "ar"])
def test_a_left_to_right_cookie_list_stays_as_it_was(accept_language: str) -> None:
    # No Arabic list words: the list is English (marked so), whatever the banner's language.
    policy = _policy({"ar": {"title": "ملفات تعريف الارتباط"}})
    text = _list(policy, accept_language, **PAGE).text
    assert 'dir="rtl"' not in text
    assert text.startswith("<!doctype html><html lang=")
