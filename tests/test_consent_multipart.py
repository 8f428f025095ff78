"""POST /consent with multipart/form-data: what `fetch(url, {body: new FormData(form)})` sends.

Answered as the same form posted without script (303 to `next`, consent cookie); a malformed
or hostile multipart body gets 400/413 and sets nothing. The last test has Debian's Chromium
build the FormData itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import ConsentMiddleware
from cookiewall.decisions import MAX_MULTIPART_BODY
from cookiewall.messages import MAX_FIELDS
from tests.support import uvicorn_server
from tests.test_cookiewall_support import (
    call,
    consent_cookie,
    http_scope,
    make_app,
    make_policy,
    run_asgi,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROME_BOUNDARY = "----WebKitFormBoundaryq8ESsCixTb2hZ4Ja"
FIREFOX_BOUNDARY = "---------------------------31060848792440962093524012862"


def multipart(fields: list[tuple[str, str]], boundary: str = CHROME_BOUNDARY) -> bytes:
    """A body as browsers write it: CRLF line ends, one part per field, closing delimiter."""
    body = b""
    for name, value in fields:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={CHROME_BOUNDARY}"


def post(body: bytes, content_type: str = MULTIPART) -> httpx.Response:
    if "\r" in content_type:  # httpx refuses to send it: straight to the ASGI app instead
        return _post_asgi(body, content_type)
    return call(
        make_app(), "POST", "/consent", content=body, headers={"content-type": content_type}
    )


def _post_asgi(body: bytes, content_type: str) -> httpx.Response:
    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),  # as a browser posts a form
        (b"content-type", content_type.encode("latin-1")),
    ]
    scope = http_scope("/consent", "POST", headers)
    messages = asyncio.run(run_asgi(make_app(), scope, body))
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return httpx.Response(start["status"], headers=start["headers"], content=content)


def granted(cookie: str) -> list[str]:
    state = call(make_app(), "GET", "/consent", headers={"cookie": f"cookiewall={cookie}"})
    assert state.status_code == 200
    result: list[str] = state.json()["granted"]
    return result


@pytest.mark.parametrize(
    ("fields", "boundary", "expected", "location"),
    [
        (
            [("action", "accept_all")],
            CHROME_BOUNDARY,
            ["analytics", "marketing", "necessary", "preferences"],
            "/",
        ),
        ([("action", "reject_all"), ("next", "/shop")], CHROME_BOUNDARY, ["necessary"], "/shop"),
        (
            [("action", "save"), ("categories", "analytics"), ("categories", "preferences")],
            FIREFOX_BOUNDARY,
            ["analytics", "necessary", "preferences"],
            "/",
        ),
        ([("action", "save")], "b", ["necessary"], "/"),
        # A field the gate does not know (a CSRF token of the site's own form) is ignored.
        (
            [("csrf", "x"), ("action", "save"), ("categories", "marketing")],
            CHROME_BOUNDARY,
            ["marketing", "necessary"],
            "/",
        ),
        # `next` outside the site is sent home, as for a urlencoded form.
        (
            [("action", "reject_all"), ("next", "https://evil.example/")],
            CHROME_BOUNDARY,
            ["necessary"],
            "/",
        ),
    ],
)
def test_a_multipart_decision_is_answered_as_a_form(
    fields: list[tuple[str, str]], boundary: str, expected: list[str], location: str
) -> None:
    response = post(multipart(fields, boundary), f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 303
    assert response.headers["location"] == location
    assert granted(consent_cookie(response)) == expected


def test_a_quoted_boundary_and_a_preamble_are_read_as_mime_allows() -> None:
    body = b"ignored preamble\r\n" + multipart([("action", "reject_all")], "a b")
    response = post(body, 'multipart/form-data; boundary="a b"')
    assert response.status_code == 303
    assert granted(consent_cookie(response)) == ["necessary"]


def test_the_same_decision_as_urlencoded_and_multipart_gives_the_same_categories() -> None:
    fields = [("action", "save"), ("categories", "analytics")]
    form = call(make_app(), "POST", "/consent", data=dict(fields))
    parted = post(multipart(fields))
    assert form.status_code == parted.status_code == 303
    assert granted(consent_cookie(form)) == granted(consent_cookie(parted))


def test_a_multipart_withdrawal_clears_the_consent_cookie() -> None:
    decided = post(multipart([("action", "accept_all")]))
    cookie = consent_cookie(decided)
    response = call(
        make_app(),
        "POST",
        "/consent",
        content=multipart([("action", "withdraw"), ("next", "/after")]),
        headers={
            "content-type": f"multipart/form-data; boundary={CHROME_BOUNDARY}",
            "cookie": f"cookiewall={cookie}",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/after"
    cleared = [h for h in response.headers.get_list("set-cookie") if h.startswith("cookiewall=")]
    assert cleared
    assert "Max-Age=0" in cleared[0]


FILE_PART = (
    f'--{CHROME_BOUNDARY}\r\nContent-Disposition: form-data; name="action"; filename="a.txt"\r\n'
    f"Content-Type: text/plain\r\n\r\naccept_all\r\n--{CHROME_BOUNDARY}--\r\n"
).encode()
NO_DISPOSITION = (
    f"--{CHROME_BOUNDARY}\r\nContent-Type: text/plain\r\n\r\naccept_all\r\n"
    f"--{CHROME_BOUNDARY}--\r\n"
).encode()
NO_NAME = (
    f"--{CHROME_BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\naccept_all\r\n"
    f"--{CHROME_BOUNDARY}--\r\n"
).encode()
NESTED = (
    f'--{CHROME_BOUNDARY}\r\nContent-Disposition: form-data; name="action"\r\n'
    "Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--\r\n"
    f"\r\n--{CHROME_BOUNDARY}--\r\n"
).encode()
HOSTILE_HEADERS = (
    f"--{CHROME_BOUNDARY}\r\nContent-Disposition: form-data" + "; a=b" * 2000 + "\r\n\r\nx\r\n"
).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (multipart([("action", "accept_all")]), "multipart/form-data", 400),  # no boundary
        (multipart([("action", "accept_all")]), "multipart/form-data; boundary=other", 400),
        (multipart([("action", "accept_all")])[:-4], None, 400),  # no closing delimiter
        (b"", None, 400),
        (b"\x00\xff not mime at all", None, 400),
        (FILE_PART, None, 400),
        (NO_DISPOSITION, None, 400),
        (NO_NAME, None, 400),
        (NESTED, None, 400),
        (multipart([("action", "save"), ("action", "accept_all")]), None, 400),
        (multipart([("action", "save"), ("next", "/a"), ("next", "/b")]), None, 400),
        (multipart([("action", "steal")]), None, 400),
        (multipart([("action", "sa~ve")]).replace(b"~", b"\xff"), None, 400),  # not UTF-8
        (multipart([("categories", "analytics")] * MAX_FIELDS + [("action", "save")]), None, 400),
        (HOSTILE_HEADERS, None, 413),
        (multipart([("action", "save"), ("pad", "x" * MAX_MULTIPART_BODY)]), None, 413),
        # Header injection through the media type: refused before it is parsed.
        (multipart([("action", "accept_all")]), "multipart/form-data; boundary=b\r\nX: 1", 400),
    ],
)
def test_a_bad_multipart_body_is_refused_and_sets_nothing(
    body: bytes, content_type: str | None, status: int
) -> None:
    response = post(body, content_type or MULTIPART)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert "set-cookie" not in response.headers


def test_an_unsupported_media_type_names_the_three_that_work() -> None:
    response = post(b"action=accept_all", "text/plain")
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]


# --- a real browser: FormData built and posted by Chromium -------------------------------


async def _settings(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Settings</title>'
        "</head><body><form id=prefs>"
        "<input type=hidden name=action value=save>"
        "<label><input type=checkbox name=categories value=analytics checked> Analytics</label>"
        "<label><input type=checkbox name=categories value=preferences> Preferences</label>"
        "</form></body></html>"
    )


browser_app = ConsentMiddleware(
    Starlette(routes=[Route("/settings", _settings)]),
    policy=make_policy(),
    secret_key="multipart-test-secret-key-012345",
)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with uvicorn_server("tests.test_consent_multipart:browser_app") as (base_url, _):
        yield base_url


@pytest.mark.browser
def test_chromium_posts_a_settings_form_as_form_data_and_the_choice_holds(
    site: str, browser: Browser
) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{site}/settings")
        outcome = page.evaluate(
            """async () => {
                const posted = await fetch('/consent', {
                    method: 'POST', body: new FormData(document.getElementById('prefs'))});
                const state = await (await fetch('/consent')).json();
                return {status: posted.status, redirected: posted.redirected,
                        granted: state.granted, decided: state.decided};
            }"""
        )
    finally:
        page.close()
    # fetch follows the 303 to `/`; the cookie it set is sent with the next request.
    assert outcome["redirected"] is True
    assert outcome["decided"] is True
    assert outcome["granted"] == ["analytics", "necessary"]
