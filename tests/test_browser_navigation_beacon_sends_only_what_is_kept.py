"""In Chromium, through a real uvicorn and the spool flushed at shutdown: a single-page app's
navigation beacon sends only what the recorder keeps, and the page view it records is, field
for field, the one a real page load of the same navigation records (followed from the same
page, with the Referer Chromium writes).

Found by a review: the beacon sent the whole path and query of both pages, so two long query
strings (a search, a tracking link) made it over the endpoint's 4 kB: a 413, the page view
lost. It now sends the page's campaign tags and, of the page left, its path, with a query only
where it is the page's own (see NAVIGATIONS).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import script_tag
from analytics.spool import list_segments, read_segment
from tests.browser_support import PERSONS_CHROME, browser_context, spooling_server, wait_until
from tests.test_navigation_beacon_event_equals_page_request import NAVIGATIONS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SITE = "127.0.0.1"
BEACON = "/_nav"


def make_app() -> ASGIApp:
    """uvicorn `--factory`: the app's shell at every path (its router is the test's
    pushState), spooling to $NAV_SPOOL."""

    async def shell(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/favicon.ico":
            response: Response = Response(status_code=204)
        else:
            response = HTMLResponse(
                f"<!doctype html><html lang=en><head><title>app</title>{script_tag(BEACON)}"
                "</head><body><h1>app</h1></body></html>"
            )
        await response(scope, receive, send)

    recorder = Recorder(spool_dir=os.environ["NAV_SPOOL"], site=SITE)
    return TrafficMiddleware(shell, recorder=recorder, navigation_beacon=BEACON)


def _events(spool: Path) -> list[dict[str, Any]]:
    rows = [row for seg in list_segments(spool) for row in read_segment(seg.path).to_pylist()]
    rows.sort(key=lambda row: row["ts"])
    for row in rows:
        del row["ts"]
    return rows


@pytest.mark.parametrize(
    ("came_from", "to", "sent_path", "sent_from"),
    NAVIGATIONS,
    ids=["long-queries", "no-tags", "new-query", "same-page", "same-page-past-referer-limit"],
)
def test_a_navigation_beacon_sends_what_is_kept_and_records_the_page_load(
    browser: Browser, tmp_path: Path, came_from: str, to: str, sent_path: str, sent_from: str
) -> None:
    spool = tmp_path / "spool"
    with (
        spooling_server(
            "tests.test_browser_navigation_beacon_sends_only_what_is_kept:make_app",
            "NAV_SPOOL",
            spool,
        ) as base,
        browser_context(browser, user_agent=PERSONS_CHROME) as context,
    ):
        page = context.new_page()
        # The navigation as a page load: the page left, then a request for the page shown.
        page.goto(base + came_from)
        page.evaluate("to => location.assign(to)", to)
        page.wait_for_url(base + to)
        # The same navigation in the app: the page left, then pushState.
        beacons: list[str] = []
        page.on(
            "request",
            lambda request: (
                beacons.append(request.post_data or "") if request.url == base + BEACON else None
            ),
        )
        page.goto(base + came_from)
        page.evaluate("to => history.pushState({}, '', to)", to)
        wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 1")
        page.close()
    assert [json.loads(body) for body in beacons] == [{"path": sent_path, "from": sent_from}]
    events = _events(spool)
    assert len(events) == 4  # the beacon's view was lost to a 413 with two long queries
    served, navigated = events[1], events[3]
    assert navigated == served
    assert navigated["referrer_medium"] == "internal"
