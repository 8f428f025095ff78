"""The cookie list (`/consent/cookies?format=html`) names a category as the banner does: the
language's label, else the name capitalised (`Necessary`). Before, an English list showed the
raw `necessary`, `preferences` beside a banner that says `Necessary`, `Preferences`; a German
one showed its labels (`Notwendig`) all the same."""

from __future__ import annotations

import html

import pytest

from cookiewall import Category
from tests.test_cookiewall_support import call, make_app, make_policy

URL = "/consent/cookies?format=html"


def _cells(*cells: str) -> str:
    return "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)


def _banner_labels(app: object) -> str:
    return call(app, "GET", "/consent/banner").text


def test_the_english_list_capitalises_as_the_banner_does() -> None:
    app = make_app()
    table = call(app, "GET", URL).text
    banner = _banner_labels(app)
    for label in ("Necessary", "Preferences", "Analytics", "Marketing"):
        assert label in banner  # the banner's own words
    assert _cells("Necessary", "cookiewall") in table  # the consent cookie's row
    assert _cells("Necessary", "session", "login") in table
    assert _cells("Preferences", "theme", "colour scheme") in table
    assert _cells("Analytics", "_ga*", "Google Analytics") in table
    assert _cells("Marketing", "ad_id", "ads") in table
    assert "<td>necessary</td>" not in table


def test_a_policys_own_required_category_is_capitalised_too() -> None:
    policy = make_policy(
        categories=[Category("essential", required=True), Category("analytics")], cookies=[]
    )
    table = call(make_app(policy=policy), "GET", URL).text
    assert _cells("Essential", "cookiewall") in table


@pytest.mark.parametrize(
    ("language", "label"), [("de", "Notwendig"), ("fr", "Strictement nécessaires")]
)
def test_a_language_with_labels_keeps_them(language: str, label: str) -> None:
    texts = {language: {"title": "t"}}
    app = make_app(policy=make_policy(texts=texts))
    table = call(app, "GET", URL, headers={"accept-language": language}).text
    assert _cells(label, "cookiewall") in table
