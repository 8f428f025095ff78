"""A regional table inherits from every table its language falls back to, its script's too.

A policy wording the whole banner in `zh-Hant` and Taiwan's own title in `zh-TW`: a visitor
sending `zh-TW` got the `zh-tw` table (the key as sent wins), but its buttons in English, marked
`lang="en"`: the texts were layered from `zh` and `zh-tw` only, never `zh-hant`, though the
lookup reads `zh-TW` as `zh-Hant-TW`. Each text now comes from the most specific table that
words it, along `cookiewall.languages.fallbacks`, and is marked with that table's language
where it is not the banner's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cookiewall import Category, Policy
from cookiewall.banner import Banner

HANT: dict[str, Any] = {
    "title": "本網站的 Cookie",
    "accept_all": "全部接受",
    "reject_all": "全部拒絕",
    "save": "儲存選擇",
    "labels": {"analytics": "統計"},
    "cookie_list": {"cookie": "名稱", "purpose": "用途"},
}
TAIWAN_TITLE = "台灣網站的 Cookie"
CATEGORIES = [Category("necessary", required=True), Category("analytics")]


def _banner(regional_key: str) -> Banner:
    texts = {"zh-Hant": HANT, regional_key: {"title": TAIWAN_TITLE}}
    return Banner(Policy("1", CATEGORIES, texts=texts), "/consent")


def _button(html: str, action: str) -> tuple[str, str]:
    """(the button's attributes after its value, its words)."""
    found = re.search(rf'value="{action}"([^>]*)>([^<]*)<', html)
    assert found is not None, html
    return found.group(1), found.group(2)


@pytest.mark.parametrize("regional_key", ["zh-TW", "zh-Hant-TW"])
def test_a_taiwanese_title_alone_keeps_the_traditional_buttons(regional_key: str) -> None:
    banner = _banner(regional_key)
    language = banner.language_for("zh-TW")
    assert language == regional_key.lower()
    html = banner.fragment(language, "/")
    assert re.search(rf'id="cookiewall-title-[^"]*">{TAIWAN_TITLE}<', html)  # its own, unmarked
    assert HANT["title"] not in html
    for action in ("accept_all", "reject_all"):
        attributes, words = _button(html, action)
        assert words == HANT[action]
        assert " lang=" not in attributes  # Chinese words in a Chinese banner: not marked
    assert "統計" in html  # the category label too


def test_the_regional_cookie_list_inherits_the_script_tables_words() -> None:
    texts = _banner("zh-TW").cookie_list_texts("zh-tw")
    assert texts.words["cookie"] == "名稱"
    assert texts.words["purpose"] == "用途"
    assert texts.language == "zh-hant"  # the most specific table with list words
    assert texts.labels["analytics"] == "統計"


def test_a_swiss_german_table_still_inherits_from_german() -> None:
    policy = Policy(
        "1",
        CATEGORIES,
        texts={"de": {"accept_all": "Alle annehmen"}, "de-CH": {"title": "Cookies (Schweiz)"}},
    )
    html = Banner(policy, "/consent").fragment("de-ch", "/")
    assert "Cookies (Schweiz)" in html
    assert _button(html, "accept_all")[1] == "Alle annehmen"
    assert _button(html, "reject_all")[1] == "Alle ablehnen"  # the built-in German
