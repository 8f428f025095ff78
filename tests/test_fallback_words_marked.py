"""Words a translated page shows in English say they are English.

A policy that words the cookie list in Italian in part (`texts.it.cookie_list` of a caption and
a column) got the rest in English inside `<table lang="it">`: "this site only", "unknown",
"Purpose", "(undeclared)" were read by screen readers with an Italian voice (and, in an
Arabic list, laid out right to left). The banner opened as a page had the same with its
title, an English heading in `<html lang="it">`. Each such word is now in an element of its
own language (`lang="en" dir="ltr"`); words in the page's language stay unmarked.

Read with the standard library's HTML parser, each text in the language a screen reader
takes for it: its nearest `lang`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from cookiewall import Category, Policy
from cookiewall.banner import Banner
from tests.test_cookiewall_support import call, make_app, make_policy

URL = "/consent/cookies?format=html"
PAGE = {"sec-fetch-dest": "document"}  # a browser following a link: a whole page
_VOID = frozenset({"meta", "link", "input", "br", "img", "hr"})


class _Languages(HTMLParser):
    """Each text's language: the `lang` of its nearest element that has one."""

    def __init__(self) -> None:
        super().__init__()
        self._open: list[tuple[str, str | None, str | None]] = []  # tag, lang, dir
        self.texts: dict[str, tuple[str | None, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            own = dict(attrs)
            self._open.append((tag, own.get("lang"), own.get("dir")))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip():
            lang = next((lang for _, lang, _ in reversed(self._open) if lang is not None), None)
            dir_ = next((d for _, _, d in reversed(self._open) if d is not None), None)
            self.texts.setdefault(data.strip(), (lang, dir_))


def _read(markup: str) -> dict[str, tuple[str | None, str | None]]:
    parser = _Languages()
    parser.feed(markup)
    parser.close()
    return parser.texts


def _cookie_list(texts: dict[str, Any], accept_language: str, navigated: bool) -> str:
    app = make_app(policy=make_policy(texts=texts))
    call(app, "GET", "/?set=stray")  # a cookie the policy does not declare
    headers = {"accept-language": accept_language, **(PAGE if navigated else {})}
    response = call(app, "GET", URL, headers=headers)
    assert response.status_code == 200
    return response.text


# Every English word of the list a policy's partial table can leave out.
ENGLISH = [
    "Cookie",  # also the Italian word; the column's own is the English table's
    "Purpose",
    "Domain",
    "Path",
    "stores your consent choice (strictly necessary)",
    "this site only",
    "(undeclared)",
    "seen on this site, not in the policy",
    "unknown",
]
PARTIAL = {"caption": "Cookie (versione {version})", "category": "Categoria"}


@pytest.mark.parametrize("navigated", [False, True], ids=["fragment", "page"])
@pytest.mark.parametrize(
    ("language", "direction", "own_words"),
    [
        ("it", None, {"title": "Cookie su questo sito"}),
        ("ar", "rtl", {"title": "ملفات تعريف الارتباط"}),
    ],
)
def test_english_words_of_a_partly_translated_cookie_list_are_marked_english(
    navigated: bool, language: str, direction: str | None, own_words: dict[str, str]
) -> None:
    texts = {language: {**own_words, "cookie_list": PARTIAL}}
    read = _read(_cookie_list(texts, language, navigated))
    caption = "Cookie (versione 2026-11-28)"
    assert read[caption] == (language, direction)
    assert read["Categoria"] == (language, direction)
    for english in ENGLISH[1:]:
        assert read[english] == ("en", "ltr"), english
    # What the policy wrote (a purpose, a cookie's name) is not the list's to mark.
    assert read["colour scheme"] == (language, direction)
    assert read["stray"] == (language, direction)


@pytest.mark.parametrize("navigated", [False, True], ids=["fragment", "page"])
@pytest.mark.parametrize(
    ("texts", "accept_language", "language"),
    [
        ({}, "de", "de"),
        ({}, "en", "en"),
        # A regional table of one word: the rest is its language's, German.
        ({"de-CH": {"cookie_list": {"path": "Pfad (CH)"}}}, "de-CH", "de-ch"),
        # A language without list words: the whole list is English, and says so once.
        ({"it": {"title": "Cookie su questo sito"}}, "it", "en"),
    ],
    ids=["de", "en", "de-ch", "it-without-list-words"],
)
def test_a_list_in_one_language_marks_no_word(
    navigated: bool, texts: dict[str, Any], accept_language: str, language: str
) -> None:
    markup = _cookie_list(texts, accept_language, navigated)
    assert {lang for lang, _ in _read(markup).values()} == {language}
    assert markup.count(" lang=") == (2 if navigated else 1)  # the page's and the table's


@pytest.mark.parametrize(
    ("texts", "title_language"),
    [
        ({"it": {"intro": "Usiamo i cookie."}}, "en"),  # the title left to English
        ({"it": {"title": "Cookie su questo sito"}}, "it"),
    ],
    ids=["english-title", "italian-title"],
)
def test_the_banner_opened_as_a_page_marks_an_english_title(
    texts: dict[str, Any], title_language: str
) -> None:
    policy = Policy("1", [Category("necessary", required=True)], texts=texts)
    response = call(
        make_app(policy=policy), "GET", "/consent/banner", headers={"accept-language": "it", **PAGE}
    )
    assert response.status_code == 200
    assert response.text.startswith('<!doctype html><html lang="it">')
    title = texts["it"].get("title", "Cookies on this site")
    assert response.text.count(f">{title}</") == 3  # <title>, <h1>, the banner's <h2>
    assert _read(response.text)[title][0] == title_language
    marks = ' lang="en" dir="ltr"' if title_language == "en" else ""
    assert f"<title{marks}>{title}</title>" in response.text
    assert f"<h1{marks}>{title}</h1>" in response.text


# Words in the list's or banner's own language, written another way. Uyghur in Arabic script
# (right to left) inside a `ug-Latn` one: they were left unmarked, laid out left to right.
UYGHUR = {
    "ug": {
        "title": "بۇ تور بېكەتتىكى cookie",
        "intro": "بىز cookie ئىشلىتىمىز",
        "cookie_list": {"caption": "cookie تىزىملىكى (نەشرى {version})", "purpose": "مەقسەت"},
    },
    "ug-Latn": {"title": "Bu torbékettiki cookie", "cookie_list": {"path": "Yol"}},
}
# A table keyed by an alias of the list's language: the same language, nothing to mark (its
# words were marked `lang="no"` in an `nb` list, `lang="iw"` in a `he` banner).
NORWEGIAN = {
    "no": {
        "cookie_list": {"caption": "Informasjonskapsler (versjon {version})", "purpose": "Formål"}
    },
    "nb": {"title": "Informasjonskapsler", "cookie_list": {"path": "Sti"}},
}
# A mark naming a code withdrawn in 1989 (`iw`, `in`, `ji`), or the alias a table was keyed by.
_WITHDRAWN_MARK = re.compile(r'lang="(iw|in|ji|no)"')


@pytest.mark.parametrize("navigated", [False, True], ids=["fragment", "page"])
@pytest.mark.parametrize(
    ("texts", "accept_language", "expected"),
    [
        (
            UYGHUR,
            "ug-Latn",
            {
                "cookie تىزىملىكى (نەشرى 2026-11-28)": ("ug", "rtl"),  # and the page's title
                "مەقسەت": ("ug", "rtl"),
                "Yol": ("ug-latn", None),
                "Domain": ("en", "ltr"),
            },
        ),
        (
            NORWEGIAN,
            "nb-NO",
            {
                "Informasjonskapsler (versjon 2026-11-28)": ("nb", None),
                "Formål": ("nb", None),
                "Sti": ("nb", None),
                "Domain": ("en", "ltr"),
            },
        ),
    ],
    ids=["ug-words-in-ug-latn", "no-words-in-nb"],
)
def test_list_words_of_the_lists_language_written_another_way(
    navigated: bool,
    texts: dict[str, Any],
    accept_language: str,
    expected: dict[str, tuple[str | None, str | None]],
) -> None:
    markup = _cookie_list(texts, accept_language, navigated)
    read = _read(markup)
    assert {text: read[text] for text in expected} == expected
    assert _WITHDRAWN_MARK.search(markup) is None


@pytest.mark.parametrize(
    ("texts", "language", "words", "expected"),
    [
        (UYGHUR, "ug-latn", "بىز cookie ئىشلىتىمىز", ("ug", "rtl")),
        (UYGHUR, "ug-latn", "Bu torbékettiki cookie", ("ug-latn", "ltr")),
        (
            {"he": {"title": "עוגיות באתר"}, "iw": {"accept_all": "קבל הכל"}},
            "he",
            "קבל הכל",
            ("he", "rtl"),
        ),
        (
            {"nb": {"title": "Informasjonskapsler"}, "no": {"accept_all": "Godta alle"}},
            "nb",
            "Godta alle",
            ("nb", "ltr"),
        ),
        # Yiddish in Latin letters over a table keyed `ji`, in Hebrew script: marked, by the
        # current code.
        (
            {"yi-Latn": {"intro": "Mir nutsn kikhlekh."}, "ji": {"title": "קיכלעך"}},
            "yi-latn",
            "קיכלעך",
            ("yi", "rtl"),
        ),
    ],
    ids=[
        "ug-intro-in-ug-latn",
        "ug-latn-title",
        "iw-button-in-he",
        "no-button-in-nb",
        "ji-in-yi-latn",
    ],
)
def test_banner_words_of_the_banners_language_written_another_way(
    texts: dict[str, Any], language: str, words: str, expected: tuple[str, str]
) -> None:
    policy = Policy("1", [Category("necessary", required=True)], texts=texts)
    html = Banner(policy, "/consent").fragment(language, "/")
    assert _read(html)[words] == expected
    assert _WITHDRAWN_MARK.search(html) is None
