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

from html.parser import HTMLParser
from typing import Any

import pytest

from cookiewall import Category, Policy
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
