"""The cookie list (`/consent/cookies?format=html`, the banner's "Cookie details" link) speaks
the banner's language: the same Accept-Language choice, English when there is none to match.
The JSON declaration stays as it is (machine-readable, English)."""

from __future__ import annotations

import html

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
        "necessary": "necessary",
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
    },
    "fr": {
        "caption": f"Cookies (version de la politique {VERSION})",
        "headers": ["Catégorie", "Cookie", "Finalité", "Domaine", "Chemin"],
        "consent": "enregistre votre choix de consentement (strictement nécessaire)",
        "undeclared": ["(non déclaré)", "stray", "vu sur ce site, absent de la politique"],
        "necessary": "Strictement nécessaires",
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
    assert _cells(str(words["necessary"]), "cookiewall", str(words["consent"]), "", "/") in text
    assert _cells(*words["undeclared"], "", "") in text
    # The same language as the banner the visitor came from.
    banner = call(app, "GET", "/consent/banner", headers=headers)
    assert banner.headers["content-language"] == language
    assert response.headers["content-language"] == language
    # What the policy wrote (a purpose) stays as written.
    assert "<td>colour scheme</td>" in text


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
    assert _cells("Einstellungen", "theme", "colour scheme", "", "/") in response.text
    english = call(make_app(policy=policy), "GET", URL, headers={"accept-language": "en"})
    assert _cells("preferences", "theme", "colour scheme", "", "/") in english.text
