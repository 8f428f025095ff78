"""Under a nonce-based CSP (Google's strict `script-src 'nonce-…' 'strict-dynamic'`, where
'self' and hosts are ignored) a `<script src>` runs only with the page's nonce:
`script_tag(beacon, nonce=…)` writes it, and the navigation script loads and counts in
Chromium; without it the browser blocks the script. A nonce that is not a CSP base64 value
(it could end the attribute) is a ValueError."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import SCRIPT_INTEGRITY, script_tag
from analytics.spool import list_segments, read_segment
from tests.browser_support import spooling_server, visitor_page, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser

APP = "tests.test_navigation_script_under_a_nonce_csp:make_app"  # uvicorn --factory
BEACON = "/_nav"
NONCE = "c2VjcmV0LW5vbmNlLTQy"
CSP = f"script-src 'nonce-{NONCE}' 'strict-dynamic'; object-src 'none'; base-uri 'none'"


@pytest.mark.parametrize(
    ("nonce", "attribute"),
    [(None, ""), ("", ""), (NONCE, f' nonce="{NONCE}"'), ("a+b/c_d-e==", ' nonce="a+b/c_d-e=="')],
)
def test_the_tag_carries_the_nonce_it_is_given(nonce: str | None, attribute: str) -> None:
    tag = script_tag(BEACON, nonce=nonce)
    assert tag.endswith(f' defer integrity="{SCRIPT_INTEGRITY}"{attribute}></script>')


@pytest.mark.parametrize("nonce", ['x" onload="alert(1)', "a b", "é", "abc=d", 7, b"abc"])
def test_a_nonce_that_could_end_the_attribute_is_refused(nonce: Any) -> None:
    with pytest.raises(ValueError, match="nonce"):
        script_tag(BEACON, nonce=nonce)


def make_app() -> Any:
    """uvicorn `--factory`: pages under the nonce CSP, spooling to $NONCE_SPOOL;
    `/?nonce=0` leaves the nonce out of the tag."""
    recorder = Recorder(spool_dir=os.environ["NONCE_SPOOL"], site="127.0.0.1")

    async def shell(request: Request) -> Response:
        nonce = None if request.query_params.get("nonce") == "0" else NONCE
        page = (
            "<!doctype html><html lang=en><head><title>SPA</title>"
            f"{script_tag(BEACON, nonce=nonce)}</head><body>"
            f"<script nonce={NONCE}>addEventListener('click', function () "
            "{ history.pushState({}, '', '/next'); });</script><p>page</p></body></html>"
        )
        return HTMLResponse(page, headers={"content-security-policy": CSP})

    favicon = Route("/favicon.ico", lambda request: Response(status_code=204))
    pages = Starlette(routes=[Route("/", shell), favicon])
    return TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON)


@pytest.mark.browser
def test_with_the_nonce_the_script_runs_and_counts(browser: Browser, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    blocked: list[str] = []
    with spooling_server(APP, "NONCE_SPOOL", spool) as base, visitor_page(browser) as page:
        page.on("console", lambda message: blocked.append(message.text))
        page.goto(base + "/?nonce=0")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__analyticsNavigation === undefined")
        assert any("Content Security Policy" in text for text in blocked), blocked
        page.goto(base + "/")
        wait_until(page, "window.__analyticsNavigation === true")
        page.click("p")
        wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 1")
        page.wait_for_timeout(300)
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])
    assert [event["path"] for event in events] == ["/", "/", "/next"]
