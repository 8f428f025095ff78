"""The navigation script's page-load beacon names the query's campaign tags so that the
server stores from it exactly what it stores from the page's own request.

The script's `tagsOf` runs in Chromium on each query; the server's `extract_utm` reads both
the page's query and the beacon's. Found by a review: a tag repeated a few hundred times or a
5 000-character value made the beacon over 4 kB (a 413, the page view lost), a backslash in a
value made it a 400 (the server refuses one in a path), and an escaped key alone
(`utm%5Fmedium`), which the server does not read from the page's own query, was sent decoded
and stored from the beacon.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from analytics.navigation import MAX_BODY, NAVIGATION_JS, _as_judged
from analytics.paths import extract_utm

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

QUERIES = [
    "utm_source=news&utm_medium=email&utm_campaign=spring&q=secret",
    "utm_source=news&" * 400,
    "utm_campaign=" + "a" * 5000,
    "utm_campaign=" + "%E9" * 1500,
    "utm_campaign=spring%20sale+2026&utm_source=a%2Bb",
    "utm_campaign=a\\b&utm_source=back\\slash",
    "utm%5Fmedium=email",
    "utm%5Fsource=x&utm_medium=y",
    "utm_source=&utm_source=%20&utm_source=x&utm_source=y",
    "ref=&source=s&ref=r",
    "utm_source=%01&utm_source=z",
    "UTM_SOURCE=upper&utm_medium=m",
    "utm_source=caf%E9&utm_campaign=%C3%A9t%C3%A9",
    "a=1&b=2",
    "utm_source=john%40example.com",
]
# A value is sent cut after 200 code points (the server stores 100): an address past the cut
# is not seen by the server, so a value that arrives cut is stored ":redacted", as the page's
# own request stores this one, not as its harmless start (review 230).
CUT_ADDRESS = "utm_campaign=" + "x" * 990 + "john@example.com"


def _tags_of(browser: Browser, queries: list[str]) -> list[str]:
    script = NAVIGATION_JS.decode()
    start = script.index("  var TAGS = {")
    end = script.index("  function loaded()")
    page = browser.new_page()
    try:
        result: list[str] = page.evaluate(
            "([source, queries]) => { const tagsOf = new Function(source + '; return tagsOf;')();"
            " return queries.map(q => tagsOf('?' + q)); }",
            [script[start:end], queries],
        )
    finally:
        page.close()
    return result


def test_the_beacon_names_the_tags_the_server_reads_and_fits(browser: Browser) -> None:
    sent = _tags_of(browser, QUERIES)
    for query, tags in zip(QUERIES, sent, strict=True):
        assert extract_utm(tags.removeprefix("?").encode()) == extract_utm(query.encode()), query
        body = json.dumps({"path": "/landing" + tags, "referrer": "https://news.example"})
        assert len(body.encode()) < MAX_BODY, query
        assert "\\" not in tags, query  # a backslash in a beacon's path is refused (400)
        assert not re.search(r"(?<![a-z_%])(q|a|b)=", tags), query  # no other pair is sent


def test_a_value_cut_keeps_no_address(browser: Browser) -> None:
    (tags,) = _tags_of(browser, [CUT_ADDRESS])
    judged = _as_judged("/landing" + tags)  # as the beacon endpoint hands it to the recorder
    assert judged is not None
    assert extract_utm(judged.partition("?")[2].encode())[2] == ":redacted"
    assert extract_utm(CUT_ADDRESS.encode())[2] == ":redacted"
