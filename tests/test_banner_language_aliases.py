"""The banner's language for browsers that name a policy's language another way.

With texts for `zh-Hant` and `he`, a browser in Taiwan or Hong Kong (`zh-TW`, `zh-HK`) and an
old Android one in Hebrew (`iw`) got the English, left-to-right banner: RFC 4647 lookup alone
tries `zh-tw` then `zh`, and `iw` is not `he`. The gate now tries each tag's alias
(`cookiewall.languages`) before dropping a subtag, for `Accept-Language`, a page's `<html
lang>` (`banner_language="page"`) and the cookie list alike.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cookiewall import Category, Policy
from cookiewall.banner import Banner
from tests.test_cookiewall_support import call, make_app

CATEGORIES = [Category("necessary", required=True), Category("analytics")]
TEXTS: dict[str, dict[str, Any]] = {
    "zh-Hant": {"title": "本網站的 Cookie", "labels": {"analytics": "統計"}},
    "zh": {"title": "本网站的 Cookie"},
    "he": {"title": "עוגיות באתר"},
    "id": {"title": "Cookie di situs ini"},
}
POLICY = Policy("1", CATEGORIES, texts=TEXTS)
_SECTION = re.compile(r'<section class="cookiewall"[^>]*\blang="([^"]*)" dir="([^"]*)"')


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [
        ("zh-TW", "zh-hant"),
        ("zh-HK,zh;q=0.9,en;q=0.8", "zh-hant"),
        ("zh-MO", "zh-hant"),
        ("zh-CN", "zh"),  # Simplified: the policy's plain `zh`, never the Traditional table
        ("iw-IL", "he"),
        ("in", "id"),
        ("zh-Hant-TW", "zh-hant"),  # as before
        ("x-klingon", "en"),
    ],
)
def test_accept_language_aliases_find_the_policys_texts(
    accept_language: str, language: str
) -> None:
    assert Banner(POLICY, "/consent").language_for(accept_language) == language


def test_a_hebrew_visitor_sending_iw_gets_the_hebrew_banner_right_to_left() -> None:
    app = make_app(policy=POLICY, inject_banner=True)
    response = call(app, "GET", "/consent/banner", headers={"accept-language": "iw"})
    assert response.status_code == 200
    found = _SECTION.search(response.text)
    assert found is not None
    assert found.groups() == ("he", "rtl")
    assert "עוגיות באתר" in response.text


@pytest.mark.parametrize(("page", "language"), [("zh-TW", "zh-hant"), ("iw", "he")])
def test_a_page_language_written_the_old_way_finds_the_policys_texts(
    page: str, language: str
) -> None:
    """`banner_language="page"` and a link's `?lang=` look up `<html lang="zh-TW">` so."""
    assert Banner(POLICY, "/consent", language_in_links=True).language_named(page) == language


# The same tables keyed the way browsers send the tags: the aliases work both ways.
KEYED_AS_SENT = Policy(
    "1",
    CATEGORIES,
    texts={
        "zh-TW": {"title": "本網站的 Cookie（臺灣）"},
        "zh-CN": {"title": "本网站的 Cookie（中国）"},
        "iw": {"title": "עוגיות באתר"},
        "in": {"title": "Cookie di situs ini"},
        "no": {"title": "Informasjonskapsler på dette nettstedet"},
    },
)


@pytest.mark.parametrize(
    ("accept_language", "language", "title", "dir_"),
    [
        ("zh-Hant-TW", "zh-tw", "本網站的 Cookie（臺灣）", "ltr"),
        ("zh-Hant-TW-x-private, en;q=0.5", "zh-tw", "本網站的 Cookie（臺灣）", "ltr"),
        ("zh-Hans-CN", "zh-cn", "本网站的 Cookie（中国）", "ltr"),
        ("he", "iw", "עוגיות באתר", "rtl"),
        ("he-IL,en;q=0.8", "iw", "עוגיות באתר", "rtl"),
        ("id-ID", "in", "Cookie di situs ini", "ltr"),
        ("nb-NO", "no", "Informasjonskapsler på dette nettstedet", "ltr"),
        # Not the same written language: Hong Kong's Traditional Chinese is not Taiwan's
        # table, `zh-Hant` alone names no region, Traditional in mainland China is no zh-CN.
        ("zh-Hant-HK", "en", "Cookies on this site", "ltr"),
        ("zh-Hant", "en", "Cookies on this site", "ltr"),
        ("zh-Hant-CN", "en", "Cookies on this site", "ltr"),
        ("nn-NO", "en", "Cookies on this site", "ltr"),
        ("no-NYN", "en", "Cookies on this site", "ltr"),  # Nynorsk's old tag
    ],
)
def test_a_policy_keyed_as_browsers_send_the_tag_serves_the_current_tags_visitors(
    accept_language: str, language: str, title: str, dir_: str
) -> None:
    app = make_app(policy=KEYED_AS_SENT, inject_banner=True)
    response = call(app, "GET", "/consent/banner", headers={"accept-language": accept_language})
    assert response.status_code == 200
    assert response.headers["content-language"] == language
    found = _SECTION.search(response.text)
    assert found is not None
    assert found.groups() == (language, dir_)
    assert f">{title}</h2>" in response.text


def test_a_norwegian_table_keyed_nb_serves_a_visitor_sending_no() -> None:
    policy = Policy("1", CATEGORIES, texts={"nb": {"title": "Informasjonskapsler"}})
    app = make_app(policy=policy, inject_banner=True)
    response = call(app, "GET", "/consent/banner", headers={"accept-language": "no"})
    assert response.headers["content-language"] == "nb"
    assert ">Informasjonskapsler</h2>" in response.text


@pytest.mark.parametrize(("page", "language"), [("zh-Hant-TW", "zh-tw"), ("he-IL", "iw")])
def test_a_page_language_written_the_current_way_finds_a_table_keyed_the_old_way(
    page: str, language: str
) -> None:
    banner = Banner(KEYED_AS_SENT, "/consent", language_in_links=True)
    assert banner.language_named(page) == language
