"""A consent form refused as possibly another site's (403, nothing decided) is answered with a
small HTML page when a browser posted it as a navigation (a banner button clicked without
JavaScript): in the visitor's language, saying the choice was not saved, with a link back to
the form's `next` (made safe) or home. It was raw JSON, which is what a no-JS visitor of a
plain-HTTP site with `Referrer-Policy: no-referrer` saw for every choice (no Fetch Metadata
there, `Origin: null`). A fetch, banner.js and JSON clients still get the JSON 403.
The browser half is tests/test_browser_refused_form_page.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cookiewall.messages import REFUSED_FORM_TEXTS
from tests.test_consent_gate_other_origins import consent_set, send
from tests.test_cookiewall_support import make_app

FORM = "application/x-www-form-urlencoded"
# What Chromium sends with a form it submits as a navigation (its Accept for documents).
NAVIGATION_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
# A no-JS banner form on a plain-HTTP page with Referrer-Policy: no-referrer, in Chromium.
NO_REFERRER_FORM = {"content-type": FORM, "origin": "null", "accept": NAVIGATION_ACCEPT}
BODY = b"action=accept_all&next=/shop/item%3Fid%3D3"


def _post(headers: dict[str, str], body: bytes = BODY, **options: Any) -> httpx.Response:
    return send(make_app(**options), "POST", "/consent", headers, content=body)


def _assert_refused_page(reply: httpx.Response, language: str, href: str, link: str) -> None:
    words = REFUSED_FORM_TEXTS[language]
    assert reply.status_code == 403
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["content-language"] == language
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["cross-origin-resource-policy"] == "same-origin"
    assert reply.headers["x-frame-options"] == "SAMEORIGIN"
    assert reply.headers["x-content-type-options"] == "nosniff"
    page = reply.text
    assert page.startswith(f'<!doctype html><html lang="{language}">')
    assert f"<title>{words['title']}</title>" in page.replace("&#x27;", "'")
    assert f'<a href="{href}">{link}</a>' in page.replace("&#x27;", "'")
    assert consent_set(reply) == []  # nothing decided


@pytest.mark.parametrize(
    "signals",
    [
        pytest.param({"origin": "null"}, id="plain-http-no-referrer-origin-null"),
        pytest.param({"origin": None}, id="ie11-no-origin-no-referer"),
        pytest.param({"origin": "http://evil.example"}, id="another-origin"),
        pytest.param(
            {
                "origin": "https://evil.example",
                "sec-fetch-site": "cross-site",
                "sec-fetch-mode": "navigate",
                "sec-fetch-dest": "document",
            },
            id="fetch-metadata-cross-site-navigation",
        ),
    ],
)
def test_a_refused_form_navigation_gets_a_page_linking_back(
    signals: dict[str, str | None],
) -> None:
    headers = {key: value for key, value in {**NO_REFERRER_FORM, **signals}.items() if value}
    reply = _post(headers)
    _assert_refused_page(reply, "en", "/shop/item?id=3", "Back to the page")


@pytest.mark.parametrize(
    ("accept_language", "language", "link"),
    [
        ("de-DE,de;q=0.9,en;q=0.5", "de", "Zurück zur Seite"),
        ("fr-CH, fr;q=0.9", "fr", "Retour à la page"),
        ("it-IT", "en", "Back to the page"),  # no banner texts for it here: English
    ],
)
def test_the_page_speaks_the_visitors_banner_language(
    accept_language: str, language: str, link: str
) -> None:
    headers = {**NO_REFERRER_FORM, "accept-language": accept_language}
    _assert_refused_page(_post(headers), language, "/shop/item?id=3", link)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"action=accept_all", id="no-next"),
        pytest.param(b"action=accept_all&next=//evil.example/", id="another-host"),
        pytest.param(b"action=accept_all&next=/..//evil.example", id="dot-segments"),
        pytest.param(b"action=accept_all&next=/a&next=/b", id="next-twice"),
        pytest.param(b"\xff\xfe", id="not-a-form"),
    ],
)
def test_without_a_safe_next_the_link_goes_home(body: bytes) -> None:
    _assert_refused_page(_post(NO_REFERRER_FORM, body), "en", "/", "Go to the home page")


def test_next_is_escaped_in_the_link() -> None:
    reply = _post(NO_REFERRER_FORM, b'action=accept_all&next=/a"><script>x</script>')
    assert reply.status_code == 403
    assert "<script>" not in reply.text
    assert 'href="/a&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in reply.text


def test_under_a_mount_the_link_stays_below_it() -> None:
    async def call(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "root_path": "/shop", "path": "/shop" + scope["path"]}, receive, send)

    app = make_app()
    reply = send(call, "POST", "/consent", NO_REFERRER_FORM, content=b"action=reject_all&next=/x")
    _assert_refused_page(reply, "en", "/shop/", "Go to the home page")
    reply = send(
        call, "POST", "/consent", NO_REFERRER_FORM, content=b"action=reject_all&next=/shop/cart"
    )
    _assert_refused_page(reply, "en", "/shop/cart", "Back to the page")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # banner.js: a fetch of the form data, asking for JSON.
        pytest.param(
            {**NO_REFERRER_FORM, "accept": "application/json"}, BODY, id="banner-js-no-metadata"
        ),
        pytest.param(
            {**NO_REFERRER_FORM, "sec-fetch-mode": "cors", "sec-fetch-site": "cross-site"},
            BODY,
            id="fetch-cors-even-accepting-html",
        ),
        pytest.param({**NO_REFERRER_FORM, "accept": "*/*"}, BODY, id="fetch-default-accept"),
        pytest.param({"content-type": FORM, "origin": "null"}, BODY, id="no-accept"),
        pytest.param(
            {**NO_REFERRER_FORM, "content-type": "text/plain"}, BODY, id="not-a-form-type"
        ),
        pytest.param(
            {"content-type": "application/json", "origin": "null", "accept": NAVIGATION_ACCEPT},
            json.dumps({"action": "accept_all"}).encode(),
            id="json",
        ),
    ],
)
def test_fetches_and_json_callers_still_get_json(headers: dict[str, str], body: bytes) -> None:
    reply = _post(headers, body)
    assert reply.status_code == 403
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"].startswith("cross-site request refused")
    assert consent_set(reply) == []


def test_a_delete_stays_json() -> None:
    reply = send(make_app(), "DELETE", "/consent", {"origin": "null", "accept": NAVIGATION_ACCEPT})
    assert (reply.status_code, reply.headers["content-type"]) == (403, "application/json")


def test_the_sites_own_form_is_still_decided() -> None:
    # The control: the same navigation with the site's Origin decides and goes back to next.
    reply = _post({**NO_REFERRER_FORM, "origin": "http://testserver"})
    assert (reply.status_code, reply.headers["location"]) == (303, "/shop/item?id=3")
    assert len(consent_set(reply)) == 1
