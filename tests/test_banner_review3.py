"""The third banner review: what a site configures for the cookie list, and what the banner
does to the page it is injected into (without a browser; Chromium checks are in
tests/test_browser_banner_review3.py)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from cookiewall import Category, Policy
from tests.test_cookiewall_support import call, gate_serving, make_app, make_policy

URL = "/consent/cookies?format=html"
PAGE = {"sec-fetch-dest": "document"}  # a browser following the "Cookie details" link

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


# --- 1. the cookie list's words come from the policy, like the banner's ---------------------


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
        # Partly translated: what is missing is English, under the policy's language tag.
        (
            {"it": {"cookie_list": {"category": "Categoria"}}},
            "it",
            "it",
            ['<th scope="col">Categoria</th>', '<th scope="col">Purpose</th>'],
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


# --- 3. a visitor's review ------------------------------------------------------------------


def _banner_tag(policy: Policy, accept_language: str) -> str:
    response = call(
        make_app(policy=policy),
        "GET",
        "/consent/banner",
        headers={"accept-language": accept_language},
    )
    assert response.status_code == 200
    start = response.text.index("<section")
    return response.text[start : response.text.index(">", start) + 1]


DIRECTIONS = [
    ("ar", "rtl"),
    ("he", "rtl"),
    ("fa", "rtl"),
    ("ur", "rtl"),
    ("yi", "rtl"),
    ("ar-eg", "rtl"),
    ("az-arab", "rtl"),  # Azerbaijani in Arabic script
    ("pa-arab", "rtl"),
    ("ku-arab", "rtl"),
    ("ug-latn", "ltr"),  # Uyghur in Latin script
    ("az", "ltr"),
    ("en", "ltr"),
    ("de", "ltr"),
    ("it", "ltr"),
]


@pytest.mark.parametrize(("language", "direction"), DIRECTIONS)
def test_the_banner_says_which_way_its_language_is_written(language: str, direction: str) -> None:
    # An Arabic or Hebrew banner was laid out left to right (its punctuation on the wrong
    # side, its checkboxes on the wrong edge); an English banner on a right-to-left page
    # inherited the page's rtl. Its own `dir` settles both.
    policy = _policy({language: {"title": "T"}})
    tag = _banner_tag(policy, language)
    assert f'lang="{language}"' in tag
    assert f'dir="{direction}"' in tag


WHOLE_PAGES_WITHOUT_BODY_END = [
    # HTML lets a page leave out </body> and </html> (the parser closes them): such a page,
    # served as a whole document, had no banner at all, so its visitor could not decide.
    (b"<!doctype html><html><head><title>t</title></head><p>Hello", b"<p>Hello", b""),
    (
        b"<!DOCTYPE html>\n<title>t</title>\n<p>Hello</p>\n</html>\n",
        b"<p>Hello</p>\n",
        b"</html>\n",
    ),
    (b"<html lang=en><p>Hello", b"<p>Hello", b""),
    (b"<!-- built 2026 -->\n<!doctype html><p>Hello", b"<p>Hello", b""),
    (b"\xef\xbb\xbf<!doctype html><p>Hello", b"<p>Hello", b""),
]


@pytest.mark.parametrize(("page", "before", "after"), WHOLE_PAGES_WITHOUT_BODY_END)
def test_a_whole_page_without_body_end_gets_the_banner_at_its_end(
    page: bytes, before: bytes, after: bytes
) -> None:
    response = call(gate_serving(page), "GET", "/")
    body = response.content
    assert b'id="cookiewall"' in body
    banner_at = body.index(b"<link rel=")
    assert body[:banner_at].endswith(before)
    assert body[body.index(b"</script>") + len(b"</script>") :] == after
    assert response.headers["content-length"] == str(len(body))


@pytest.mark.parametrize(
    "fragment",
    [
        b"<p>fragment without body end</p>",
        b"<tr><td>a row for htmx</td></tr>",
        b"<div>" + b"x" * 2000 + b"<html></div>",  # a late '<html' is no document start
    ],
)
def test_a_fragment_without_body_end_stays_as_it_is(fragment: bytes) -> None:
    # Partial pages (htmx, fetch) are put into a page that has its own banner.
    assert call(gate_serving(fragment), "GET", "/").content == fragment


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
