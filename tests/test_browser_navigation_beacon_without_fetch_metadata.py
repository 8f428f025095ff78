"""In Chromium, the real navigation script's beacons are recorded on a plain-HTTP site whatever
the page's referrer policy: on 127.0.0.1 (a secure context, so Fetch Metadata is sent) and on
a host that is no secure context (`plain.test`, mapped to 127.0.0.1: no `Sec-Fetch-*` at all),
each with and without `Referrer-Policy: no-referrer` (then no Referer). Chromium sends the
page's real Origin with every beacon, which is what lets the beacon refuse a post carrying
none of `Sec-Fetch-Site`, `Origin` and `Referer` (tests/test_navigation_beacon_csrf.py). A
form another site's page posts to the beacon (`enctype="text/plain"`, a JSON body) is refused.
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

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Receive, Scope, Send
from analytics.navigation import script_tag
from analytics.spool import list_segments, read_segment
from tests.browser_support import wait_until
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

BEACON = "/_navigation"
# Names no resolver knows, mapped to the server by Chromium itself: http:// origins that are
# not potentially trustworthy (unlike 127.0.0.1 and localhost), as a plain-HTTP site is.
PLAIN_HOST = "plain.test"
ATTACKER_HOST = "attacker.test"
SIGNALS = ("origin", "referer", "sec-fetch-site")
APP_JS = b"""
document.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-spa]");
  if (!link) return;
  event.preventDefault();
  history.pushState({}, "", link.getAttribute("href"));
});
"""
# The field's name and value join into a JSON object: the classic text/plain form CSRF body.
ATTACK = (
    "<!doctype html><html lang=en><head><title>Win a prize</title></head><body>"
    '<form method=post enctype="text/plain" action="{target}">'
    '<input type=hidden name=\'{{"path":"/injected","from":"/","x":"\' value=\'"}}\'>'
    "<button>Claim</button></form></body></html>"
)


async def shell(request: Request) -> Response:
    headers = {"referrer-policy": "no-referrer"} if request.query_params.get("strict") else {}
    return HTMLResponse(
        "<!doctype html><html lang=en><head><title>SPA</title>"
        f"{script_tag(BEACON)}<script src=/app.js defer></script></head><body>"
        '<a data-spa href="/a">A</a></body></html>',
        headers=headers,
    )


async def app_js(request: Request) -> Response:
    return Response(APP_JS, media_type="text/javascript")


async def attack(request: Request) -> Response:
    target = request.query_params["target"]
    return HTMLResponse(ATTACK.format(target=target), headers={"referrer-policy": "no-referrer"})


def make_app() -> Any:
    """The app under uvicorn (`--factory`): spools to $BEACON_SPOOL, and writes which of
    Origin, Referer and Sec-Fetch-Site each beacon carried, with its answer, to $BEACON_LOG."""
    recorder = Recorder(spool_dir=os.environ["BEACON_SPOOL"], site="127.0.0.1")
    routes = [Route("/", shell), Route("/app.js", app_js), Route("/attack", attack)]
    routes.append(Route("/favicon.ico", lambda request: Response(status_code=204)))
    pages = TrafficMiddleware(Starlette(routes=routes), recorder=recorder, navigation_beacon=BEACON)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != BEACON:
            await pages(scope, receive, send)
            return
        answered: list[int] = []

        async def watched(message: Any) -> None:
            if message["type"] == "http.response.start":
                answered.append(message["status"])
            await send(message)

        await pages(scope, receive, watched)
        sent = {name.decode(): value.decode() for name, value in scope["headers"]}
        seen = {name: sent[name] for name in SIGNALS if name in sent}
        with open(os.environ["BEACON_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"status": answered[0], "headers": seen}) + "\n")

    return app


@pytest.fixture(scope="module")
def plain_http_browser() -> Iterator[Browser]:
    """Chromium that resolves PLAIN_HOST and ATTACKER_HOST to 127.0.0.1."""
    pytest.importorskip("playwright")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    rules = f"MAP {PLAIN_HOST} 127.0.0.1, MAP {ATTACKER_HOST} 127.0.0.1"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"]
        )
        try:
            yield instance
        finally:
            instance.close()


def _navigate_once(browser: Browser, origin: str, query: str) -> None:
    """Open the SPA at `origin`/`query` and push one page (/a): one beacon."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{origin}/{query}")
        wait_until(page, "window.__analyticsNavigation === true")
        page.click("text=A")
        wait_until(page, f"performance.getEntriesByName('{origin}{BEACON}').length >= 1")
    finally:
        context.close()


def _logged(log: Path, count: int) -> list[dict[str, Any]]:
    """The first `count` beacons the server logged (they may land after the page closed)."""
    deadline = time.monotonic() + 10
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)


def _spooled_paths(spool: Path) -> list[str]:
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])
    return [event["path"] for event in events]


def test_the_real_beacon_carries_an_origin_and_is_recorded_over_plain_http(
    plain_http_browser: Browser, tmp_path: Path
) -> None:
    spool, log = tmp_path / "spool", tmp_path / "beacons.jsonl"
    env = {"BEACON_SPOOL": str(spool), "BEACON_LOG": str(log)}
    with uvicorn_server(f"{__name__}:make_app", env=env, factory=True) as (base, _):
        port = base.rsplit(":", 1)[1]
        plain = f"http://{PLAIN_HOST}:{port}"
        for origin in (base, plain):
            for query in ("", "?strict=1"):
                _navigate_once(plain_http_browser, origin, query)
        beacons = _logged(log, 4)
    assert [beacon["status"] for beacon in beacons] == [204, 204, 204, 204]
    seen = [beacon["headers"] for beacon in beacons]
    # 127.0.0.1 is a secure context: Fetch Metadata. plain.test is not: none, only Origin.
    assert [headers.get("sec-fetch-site") for headers in seen] == [
        "same-origin", "same-origin", None, None
    ]  # fmt: skip
    # Under no-referrer no Referer, but the page's real Origin all the same (not "null").
    assert [headers.get("referer") is not None for headers in seen] == [True, False, True, False]
    assert [headers.get("origin") for headers in seen] == [base, base, plain, plain]
    assert _spooled_paths(spool).count("/a") == 4


def test_another_sites_text_plain_form_is_refused(
    plain_http_browser: Browser, tmp_path: Path
) -> None:
    spool, log = tmp_path / "spool", tmp_path / "beacons.jsonl"
    env = {"BEACON_SPOOL": str(spool), "BEACON_LOG": str(log)}
    with uvicorn_server(f"{__name__}:make_app", env=env, factory=True) as (base, _):
        port = base.rsplit(":", 1)[1]
        target = f"http://{PLAIN_HOST}:{port}{BEACON}"
        context = plain_http_browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"http://{ATTACKER_HOST}:{port}/attack?target={target}")
            with page.expect_response(target) as answer:
                page.click("text=Claim")
            assert answer.value.status == 403
        finally:
            context.close()
        beacons = _logged(log, 1)
    # Chromium's form under no-referrer: `Origin: null`, the one signal, refused as any
    # origin not this site's. IE 11 sent none at all: refused now too (no JSON body type).
    assert beacons == [{"status": 403, "headers": {"origin": "null"}}]
    assert "/injected" not in _spooled_paths(spool)
