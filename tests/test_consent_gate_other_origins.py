"""What another origin can get from the consent endpoints, and where `next` can lead.

* A form decision needs a sign that it comes from the site's own page: `Sec-Fetch-Site:
  same-origin`, or the site's `Origin`, or the site's `Referer`. IE 11 and Firefox before 70
  send no Origin with a form and no Fetch Metadata, so an attacker's page with
  `Referrer-Policy: no-referrer` made such a browser post "neither": taken for a non-browser
  client, it decided (accept all, or withdraw). JSON and DELETE without either header are
  still accepted: a page of another origin cannot send them without a CORS preflight, which
  the gate never grants.
* `next` with a `.` or `..` segment, in any spelling, goes home: the browser resolves
  `/..//evil.example` to the path `//evil.example` on this site, which a trailing-slash
  redirect elsewhere in the app turns into a Location to another host.
* The answers that state the visitor's choice carry `Cross-Origin-Resource-Policy:
  same-origin`: a page on a sibling subdomain (same-site: the Lax consent cookie goes with
  the request) included consent-mode.js and read the choice from `window.dataLayer`. A request
  the browser marks as not same-origin gets the undecided defaults (browsers without CORP).
The browser half (Chromium, a sibling subdomain's page) is
tests/test_browser_consent_mode_not_read_by_a_sibling.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from cookiewall import Category
from cookiewall.endpoints import safe_next
from tests.support import uvicorn_server
from tests.test_cookiewall_support import make_app, make_policy

SITE = "http://testserver"
FORM = "application/x-www-form-urlencoded"
# What IE 11 sends with a form an attacker's page (no-referrer) posts to the site.
IE11 = "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko"


def send(
    app: Any, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> httpx.Response:
    """One request with exactly `headers` (httpx adds host, accept, user-agent and the like;
    never Origin, Referer or Sec-Fetch-*)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            return await client.request(method, path, headers=headers, **kwargs)

    return asyncio.run(go())


def consent_set(response: httpx.Response) -> list[str]:
    return [v for v in response.headers.get_list("set-cookie") if v.startswith("cookiewall=")]


def accepted_cookie(app: Any) -> str:
    decided = send(app, "POST", "/consent", {"origin": SITE}, json={"action": "accept_all"})
    assert decided.status_code == 200
    value: str = decided.cookies["cookiewall"]
    return value


# -- F1: a form that says nowhere it is the site's own ----------------------------------------

MULTIPART_BODY = (
    b'--B\r\nContent-Disposition: form-data; name="action"\r\n\r\naccept_all\r\n--B--\r\n'
)
FORMS_WITH_NEITHER = [
    pytest.param({"content-type": FORM}, b"action=accept_all&next=/", id="urlencoded"),
    pytest.param(
        {"content-type": "Application/X-WWW-Form-Urlencoded ; charset=UTF-8"},
        b"action=accept_all",
        id="urlencoded-spelt-otherwise",
    ),
    pytest.param(
        {"content-type": "multipart/form-data; boundary=B"}, MULTIPART_BODY, id="multipart"
    ),
    # Fetch Metadata that is not same-origin says nothing about the page either.
    pytest.param(
        {"content-type": FORM, "sec-fetch-site": "same-site"}, b"action=accept_all", id="same-site"
    ),
    pytest.param({"content-type": FORM, "sec-fetch-site": "none"}, b"action=accept_all", id="none"),
]


@pytest.mark.parametrize(("headers", "body"), FORMS_WITH_NEITHER)
def test_a_form_with_neither_origin_nor_referer_decides_nothing(
    headers: dict[str, str], body: bytes
) -> None:
    app = make_app()
    response = send(app, "POST", "/consent", {**headers, "user-agent": IE11}, content=body)
    assert response.status_code == 403, response.text
    assert "cross-site request refused" in response.json()["error"]
    assert "Origin or Referer" in response.json()["error"]  # says what a form must carry
    assert consent_set(response) == []


def test_a_form_withdrawal_with_neither_leaves_the_decision_in_force() -> None:
    app = make_app()
    cookie = accepted_cookie(app)
    headers = {"content-type": FORM, "user-agent": IE11, "cookie": f"cookiewall={cookie}"}
    response = send(app, "POST", "/consent", headers, content=b"action=withdraw&next=/")
    assert response.status_code == 403
    assert response.headers.get_list("set-cookie") == []  # nothing cleared, nothing expired
    state = send(app, "GET", "/consent", {"cookie": f"cookiewall={cookie}"}).json()
    assert (state["decided"], state["summary"]) == (True, "all")


@pytest.mark.parametrize(
    "signal",
    [
        {"sec-fetch-site": "same-origin"},  # a current browser, whatever its Referrer-Policy
        {"origin": SITE},
        {"referer": f"{SITE}/blog/post?id=3"},  # IE 11 on the site's own page
    ],
    ids=["sec-fetch-site", "origin", "referer"],
)
def test_a_form_from_the_sites_page_decides(signal: dict[str, str]) -> None:
    headers = {"content-type": FORM, "user-agent": IE11, **signal}
    response = send(make_app(), "POST", "/consent", headers, content=b"action=accept_all&next=/a")
    assert (response.status_code, response.headers["location"]) == (303, "/a")
    assert len(consent_set(response)) == 1


def test_json_and_delete_with_neither_are_still_a_non_browser_clients() -> None:
    """No page of another origin can send these without a preflight the gate never grants."""
    app = make_app()
    posted = send(app, "POST", "/consent", {}, json={"action": "accept_all"})
    assert (posted.status_code, posted.json()["summary"]) == (200, "all")
    cookie = posted.cookies["cookiewall"]
    withdrawn = send(app, "DELETE", "/consent", {"cookie": f"cookiewall={cookie}"})
    assert (withdrawn.status_code, withdrawn.json()["decided"]) == (200, False)


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/json, " + FORM])
def test_other_bodies_with_neither_decide_nothing(content_type: str | None) -> None:
    """What a page can send without a preflight besides a form (text/plain, no type), and a
    type the gate reads as neither form nor JSON: never a decision, whatever the order of
    the checks (a reader that one day took these for a form must not skip the check)."""
    headers = {"content-type": content_type} if content_type else {}
    response = send(make_app(), "POST", "/consent", headers, content=b"action=accept_all")
    assert response.status_code in (400, 403, 415), response.text
    assert consent_set(response) == []


def test_the_ie11_form_through_uvicorn_is_refused() -> None:
    """The request an attacker's no-referrer page makes IE 11 send, over a real socket."""
    app = "tests.test_cookiewall_support:make_app"
    with uvicorn_server(app, factory=True) as (base, _), httpx.Client(base_url=base) as client:
        refused = client.post(
            "/consent",
            content=b"action=accept_all&next=/",
            headers={"content-type": FORM, "user-agent": IE11},
        )
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers
        assert client.get("/consent").json()["decided"] is False


# -- F2: `next` with dot segments ---------------------------------------------------------------

DOT_SEGMENT_NEXTS = [
    "/.//evil.example",
    "/..//evil.example",
    "/./../..//evil.example/x",
    "/%2e//evil.example",
    "/%2E//evil.example",
    "/.%2e//evil.example",
    "/%2e.//evil.example",
    "/%2E%2e//evil.example",
    "/a/..//evil.example",
    "/a/b/%2e%2E/..//evil.example?x=1",
    "/a/.",
    "/a/..",
    "/./a",
]


def whatwg_path(location: str) -> str:
    """The path a browser requests after a 303 to `location` from /page (dot segments
    removed as the WHATWG URL parser removes them, `%2e` included, any case)."""
    path = location.split("?", 1)[0].split("#", 1)[0]
    out: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        lowered = segment.lower()
        if lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if out:
                out.pop()
            if last:
                out.append("")
        elif lowered in (".", "%2e"):
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


@pytest.mark.parametrize("next_value", DOT_SEGMENT_NEXTS)
def test_next_with_a_dot_segment_goes_home(next_value: str) -> None:
    # What the browser would have done with the value kept, to be sure the table means it.
    assert whatwg_path(next_value) != next_value.split("?", 1)[0]
    assert safe_next(next_value) == "/"
    body = urlencode({"action": "reject_all", "next": next_value}).encode()
    headers = {"content-type": FORM, "origin": SITE}
    response = send(make_app(), "POST", "/consent", headers, content=body)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert not whatwg_path(response.headers["location"]).startswith("//")


@pytest.mark.parametrize(
    "next_value",
    ["/shop/./x", "/shop/%2e%2e/shop/x", "/shop/a/%2E/b", "/shop/.%2E//evil.example"],
)
def test_next_with_a_dot_segment_under_a_root_path_goes_to_the_root(next_value: str) -> None:
    assert safe_next(next_value, "/shop") == "/shop/"


@pytest.mark.parametrize(
    "next_value",
    ["/.well-known/x", "/a.b/c.", "/...", "/a/..b/.c", "/%2e%2e%2f", "/a?next=/../x", "/a#/./b"],
)
def test_dots_that_are_not_a_segment_are_kept(next_value: str) -> None:
    assert safe_next(next_value) == next_value
    assert whatwg_path(next_value) == next_value.split("?", 1)[0].split("#", 1)[0]


# -- F4: answers carrying the visitor's state are the site's own ---------------------------------


def mapped_app() -> Any:
    categories = [
        Category("necessary", required=True, consent_mode=["security_storage"]),
        Category("preferences", consent_mode=["functionality_storage"]),
        Category("analytics", consent_mode=["analytics_storage"]),
        Category("marketing", consent_mode=["ad_storage"]),
    ]
    return make_app(policy=make_policy(categories=categories))


def defaults_of(script: str) -> dict[str, str]:
    match = re.search(r'gtag\("consent", "default", (\{.*?\})\);', script)
    assert match, script
    signals: dict[str, str] = json.loads(match.group(1))
    return signals


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/consent/consent-mode.js", {}),
        ("GET", "/consent", {}),
        ("POST", "/consent", {"json": {"action": "reject_all"}}),
        ("POST", "/consent", {"json": {"action": "accept_all", "policy_version": "other"}}),
        ("DELETE", "/consent", {}),
        ("GET", "/consent/banner?next=/a", {}),
        ("GET", "/consent/cookies", {}),
        ("GET", "/consent/cookies?format=html", {}),
    ],
)
def test_answers_with_the_visitors_state_are_same_origin_only(
    method: str, path: str, kwargs: dict[str, Any]
) -> None:
    app = mapped_app()
    cookie = accepted_cookie(app)
    headers = {"origin": SITE, "cookie": f"cookiewall={cookie}"}
    response = send(app, method, path, headers, **kwargs)
    assert response.status_code in (200, 409), response.text
    assert response.headers.get_list("cross-origin-resource-policy") == ["same-origin"]


def test_public_files_stay_embeddable() -> None:
    """No visitor's state in them: a proxy or CDN may serve them from elsewhere."""
    app = mapped_app()
    for path in ("/.well-known/gpc.json", "/consent/static/banner.css"):
        response = send(app, "GET", path, {})
        assert response.status_code == 200
        assert "cross-origin-resource-policy" not in response.headers


@pytest.mark.parametrize(
    ("fetch_site", "shows_the_choice"),
    [
        (None, True),  # a browser without Fetch Metadata, or a server-side fetch
        ("same-origin", True),  # the site's own page
        ("same-site", False),  # a sibling subdomain's page
        ("cross-site", False),
        ("none", False),  # typed into the address bar: nobody's page needs it
        ("same-origin, cross-site", False),  # a repeated field: every copy must agree
    ],
)
def test_consent_mode_defaults_for_another_origin_are_undecided(
    fetch_site: str | None, shows_the_choice: bool
) -> None:
    app = mapped_app()
    headers = {"cookie": f"cookiewall={accepted_cookie(app)}", "sec-fetch-dest": "script"}
    if fetch_site is not None:
        headers["sec-fetch-site"] = fetch_site
    response = send(app, "GET", "/consent/consent-mode.js", headers)
    assert response.status_code == 200
    assert "Sec-Fetch-Site" in response.headers["vary"]
    signals = defaults_of(response.text)
    optional = {
        signals[name] for name in ("functionality_storage", "analytics_storage", "ad_storage")
    }
    assert optional == ({"granted"} if shows_the_choice else {"denied"})
    assert signals["security_storage"] == "granted"  # required: granted to anyone
