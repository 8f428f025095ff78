"""In Chromium with JavaScript off, on a plain-HTTP site (`plain.test`, mapped to 127.0.0.1:
no secure context, so no Fetch Metadata) whose pages send `Referrer-Policy: no-referrer`, a
click on the banner's "Accept all" posts the form with `Origin: null` and no Referer, which the
gate refuses (403: another site's page sends the same). The visitor sees a page in the
browser's language saying the choice was not saved, with a link back to the page, which
leads there; it was raw JSON. A fetch refused as another site's still gets JSON (Chromium
sends a same-origin fetch's real Origin even under no-referrer: banner.js decides).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics.middleware import Message, Receive, Scope, Send
from cookiewall import Category, ConsentMiddleware, Policy
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

PLAIN_HOST = "plain.test"
ATTACKER_HOST = "attacker.test"
NO_REFERRER = {"referrer-policy": "no-referrer"}


async def page(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><title>Shop</title></head>"
        f"<body><h1>Item {request.query_params.get('id', '')}</h1></body></html>",
        headers=NO_REFERRER,
    )


gate = ConsentMiddleware(
    Starlette(
        routes=[
            Route("/item", page),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
        ]
    ),
    policy=Policy(
        version="1", categories=[Category("necessary", required=True), Category("analytics")]
    ),
    secret_key="refused-form-page-test-key-0123456789",
    inject_banner=True,
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The gate; each POST to /consent logged to $REFUSED_LOG with its answer."""
    if scope["type"] != "http" or scope["method"] != "POST":
        await gate(scope, receive, send)
        return
    sent = {name.decode(): value.decode() for name, value in scope["headers"]}
    seen: dict[str, Any] = {name: sent.get(name) for name in ("origin", "sec-fetch-mode", "accept")}
    body: list[bytes] = []

    async def watched(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            answer = dict(message["headers"])
            seen["content-type"] = answer.get(b"content-type", b"").decode()
        else:
            body.append(message.get("body", b""))
        await send(message)

    await gate(scope, receive, watched)
    seen["body"] = b"".join(body).decode()
    with open(os.environ["REFUSED_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps(seen) + "\n")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refused") / "posts.jsonl"


@pytest.fixture(scope="module")
def site(log: Path) -> Iterator[str]:
    """The site at http://plain.test:<port> (Chromium maps the name to uvicorn)."""
    with uvicorn_server(f"{__name__}:app", env={"REFUSED_LOG": str(log)}) as (base, _):
        yield f"http://{PLAIN_HOST}:{base.rsplit(':', 1)[1]}"


def _logged(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _answers_after(log: Path, seen: int) -> list[dict[str, Any]]:
    """The posts the server logged after the first `seen` (each once its answer is sent)."""
    deadline = time.monotonic() + 10
    while len(_logged(log)) <= seen and time.monotonic() < deadline:
        time.sleep(0.05)
    return _logged(log)[seen:]


@pytest.fixture(scope="module")
def plain_http_browser() -> Iterator[Browser]:
    """Chromium that resolves PLAIN_HOST and ATTACKER_HOST to 127.0.0.1."""
    pytest.importorskip("playwright")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    rules = f"--host-resolver-rules=MAP {PLAIN_HOST} 127.0.0.1, MAP {ATTACKER_HOST} 127.0.0.1"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules]
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.mark.parametrize(
    ("locale", "title", "back"),
    [
        ("en-US", "Your choice was not saved", "Back to the page"),
        ("de-DE", "Ihre Wahl wurde nicht gespeichert", "Zurück zur Seite"),
    ],
)
def test_a_refused_no_js_choice_shows_a_page_that_leads_back(
    plain_http_browser: Browser, site: str, locale: str, title: str, back: str
) -> None:
    context = plain_http_browser.new_context(java_script_enabled=False, locale=locale)
    try:
        tab = context.new_page()
        tab.goto(f"{site}/item?id=7")
        # The response comes before its page commits: wait for the navigation too.
        with tab.expect_navigation(), tab.expect_response(f"{site}/consent") as answer:
            tab.get_by_role(
                "button", name="Accept all" if locale == "en-US" else "Alle akzeptieren"
            ).click()
        refused = answer.value
        assert refused.status == 403
        assert refused.request.all_headers().get("origin") == "null"  # what the gate refused
        assert "sec-fetch-site" not in refused.request.all_headers()
        assert refused.headers["content-type"] == "text/html; charset=utf-8"
        assert tab.url == f"{site}/consent"
        assert tab.title() == title
        assert tab.get_by_role("heading", level=1).inner_text() == title
        assert tab.evaluate("document.documentElement.lang") == locale[:2]
        assert tab.context.cookies() == []  # nothing decided
        tab.get_by_role("link", name=back).click()
        tab.wait_for_url(f"{site}/item?id=7")
        assert tab.get_by_role("heading", level=1).inner_text() == "Item 7"
    finally:
        context.close()


def test_a_refused_fetch_still_gets_json(plain_http_browser: Browser, site: str, log: Path) -> None:
    context = plain_http_browser.new_context()
    try:
        tab = context.new_page()
        # Another site's page (same server, another name): its form-bodied fetch is refused.
        tab.goto(site.replace(PLAIN_HOST, ATTACKER_HOST) + "/item?id=1")
        seen = len(_logged(log))
        tab.evaluate(
            """url => fetch(url, {method: "POST", mode: "no-cors",
                 body: new URLSearchParams("action=accept_all&next=/item")})""",
            f"{site}/consent",
        )
        # What the gate answered, as the server saw it (Playwright shows an opaque response
        # without its headers).
        (answered,) = _answers_after(log, seen)
        assert answered["origin"].startswith(f"http://{ATTACKER_HOST}:")
        assert answered["sec-fetch-mode"] is None  # no Fetch Metadata: Accept decides
        assert answered["accept"] == "*/*"
        assert answered["status"] == 403
        assert answered["content-type"] == "application/json"
        assert json.loads(answered["body"]) == {"error": "cross-site request refused"}
    finally:
        context.close()
