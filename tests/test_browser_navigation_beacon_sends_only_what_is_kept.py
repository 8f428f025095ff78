"""In Chromium, through a real uvicorn and the spool flushed at shutdown: a single-page app's
navigation beacon sends only what the recorder keeps, and the page view it records is, field
for field, the one a real page load of the same navigation records (followed from the same
page, with the Referer Chromium writes).

Found by a review: the beacon sent the whole path and query of both pages, so two long query
strings (a search, a tracking link) made it over the endpoint's 4 kB: a 413, the page view
lost. It now sends the page's campaign tags and, of the page left, its path, with a query only
where it is the page's own (see NAVIGATIONS).

Found by the next review: long tags (five of 1000 characters, or three sent twice when the
page left had the same query on another path) and a page left past 4 kB still gave a 413, a
long non-ASCII tag was cut inside a character (83 emoji and U+FFFD, where the page load
stores 100 emoji), and a `<meta name="referrer">` policy was ignored (no-referrer: the page
load `direct`, the beacon `internal`).

Found by review 230: the page load's request is judged whole, the beacon only as far as the
script cut it, so a beacon stored more than the page load (an address past a tag's 200th code
point, a query encoded into a path whose `=` lay past the 4096-character cut) or otherwise
(one long segment, a token: `/…`, not `/:redacted`). What the script cut off is now stored as
`:redacted` (see NAVIGATIONS' last field).

Found by h280 (F1): browsers keep running 0.5.0's script after an upgrade (a tab opened before
it, the script cached `immutable` for a year), and this release refused (400) what it sends
with a tag twice or over 200 code points: the page view lost. Its beacons now count as the
page load does (OLD_SCRIPT_NAVIGATIONS, with 0.5.0's script file as the browser has it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware, navigation
from analytics.navigation import MAX_BODY, NAVIGATION_JS, script_tag
from analytics.spool import list_segments, read_segment
from tests.browser_support import PERSONS_CHROME, browser_context, spooling_server, wait_until
from tests.test_navigation_beacon_event_equals_page_request import (
    NAVIGATION_IDS,
    NAVIGATIONS,
    OLD_SCRIPT_NAVIGATION_IDS,
    OLD_SCRIPT_NAVIGATIONS,
    TAGS,
    as_cut,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SITE = "127.0.0.1"
BEACON = "/_nav"
# A page under /meta-<policy>/ says <meta name="referrer" content="<policy>">.
POLICY_PAGE = re.compile(r"/meta-([A-Za-z-]+)/")
# (from, to, the beacon's path, its from, the tags cut, the medium recorded), as NAVIGATIONS.
POLICY_NAVIGATIONS = [
    # No Referer at all: the page load is a direct visit, and so is the beacon's.
    ("/meta-No-Referrer/a", "/b", "/b", "", (), "direct"),
    # The origin alone: it names no page, so the tags of the page spelled otherwise are kept.
    (
        "/meta-origin/a?utm_source=x",
        "/meta-origin/%61?utm_source=x",
        "/meta-origin/%61?utm_source=x",
        "/",
        (),
        "internal",
    ),
    ("/meta-strict-origin/a", "/", "/", "/?", (), "internal"),  # "/" would be the page itself
]


# 0.5.0's script (fb9acdf's analytics/static/navigation.js, byte for byte) and the `?v=` of
# its tag, as pages rendered with 0.5.0's `script_tag` name it.
OLD_SCRIPT = (Path(__file__).parent / "apps" / "navigation-0.5.0.js").read_bytes()
OLD_VERSION = "0614029239eb72f2"
OLD_INTEGRITY = "sha384-" + base64.b64encode(hashlib.sha384(OLD_SCRIPT).digest()).decode()
OLD_TAG = f'<script src="{BEACON}.js?v={OLD_VERSION}" defer integrity="{OLD_INTEGRITY}"></script>'


def make_app() -> ASGIApp:
    """uvicorn `--factory`: the app's shell at every path (its router is the test's
    pushState), spooling to $NAV_SPOOL."""
    return _shell_app(script_tag(BEACON))


def make_app_with_the_0_5_0_script() -> ASGIApp:
    """`make_app` whose pages carry 0.5.0's tag, its script served as a browser's cache
    serves it (immutable for a year: this server is never asked for it again)."""
    app = _shell_app(OLD_TAG)
    cached = Response(OLD_SCRIPT, media_type="text/javascript")

    async def with_the_cached_script(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == BEACON + ".js":
            await cached(scope, receive, send)
        else:
            await app(scope, receive, send)

    return with_the_cached_script


def _shell_app(tag: str) -> ASGIApp:
    async def shell(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/favicon.ico":
            response: Response = Response(status_code=204)
        else:
            policy = POLICY_PAGE.match(scope["path"])
            meta = f'<meta name="referrer" content="{policy[1]}">' if policy else ""
            response = HTMLResponse(
                f"<!doctype html><html lang=en><head><title>app</title>{meta}"
                f"{tag}</head><body><h1>app</h1></body></html>"
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
    ("factory", "came_from", "to", "sent_path", "sent_from", "cut", "medium"),
    [("make_app", *navigation, "internal") for navigation in NAVIGATIONS]
    + [("make_app", *navigation) for navigation in POLICY_NAVIGATIONS]
    # 0.5.0's script sends both pages whole
    + [
        ("make_app_with_the_0_5_0_script", came_from, to, to, came_from, cut, "internal")
        for came_from, to, cut in OLD_SCRIPT_NAVIGATIONS
    ],
    ids=[
        *NAVIGATION_IDS,
        "meta-no-referrer",
        "meta-origin-same-page",
        "meta-origin-page-root",
        *(f"0.5.0-script-{name}" for name in OLD_SCRIPT_NAVIGATION_IDS),
    ],
)
def test_a_navigation_beacon_sends_what_is_kept_and_records_the_page_load(
    browser: Browser,
    tmp_path: Path,
    factory: str,
    came_from: str,
    to: str,
    sent_path: str,
    sent_from: str,
    cut: tuple[str, ...],
    medium: str,
) -> None:
    spool = tmp_path / "spool"
    with (
        spooling_server(
            f"tests.test_browser_navigation_beacon_sends_only_what_is_kept:{factory}",
            "NAV_SPOOL",
            spool,
        ) as base,
        browser_context(browser, user_agent=PERSONS_CHROME) as context,
    ):
        page = context.new_page()
        # The navigation as a page load: the page left, then a request for the page shown.
        page.goto(base + came_from)
        page.evaluate("to => location.assign(to)", to)
        page.wait_for_url(lambda url: url == base + to)  # a string is a glob: `\` escapes
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
    assert len(beacons[0]) <= MAX_BODY
    events = _events(spool)
    assert len(events) == 4  # the beacon's view was lost to a 413 with long tags
    served, navigated = events[1], events[3]
    assert navigated == as_cut(served, cut)
    assert navigated["referrer_medium"] == medium


def _constant(name: str) -> int:
    return int(re.search(rf"var {name} = (\d+);".encode(), NAVIGATION_JS)[1])  # type: ignore[index]


def test_the_longest_body_the_script_can_send_fits() -> None:
    """The bound `MAX_BODY` is computed from, with the script's own limits: the page's path
    cut past MAX_PATH, five tags of VALUE_POINTS code points of 4 escaped bytes each; the page
    left within MAX_REFERRER, its query reduced as the page's; the JSON around them."""
    key = max(len(tag) for tag in TAGS)
    tags = len(TAGS) * len(f"&{'k' * key}=") + len(TAGS) * 12 * _constant("VALUE_POINTS")
    page = _constant("MAX_PATH") + len("/%E2%80%A6") + tags
    came_from = _constant("MAX_REFERRER") + tags
    assert (
        len(json.dumps({"path": "", "from": ""}, separators=(",", ":"))) + page + came_from
        <= MAX_BODY
    )


def test_the_server_bounds_and_judges_a_beacon_by_the_scripts_own_limits() -> None:
    """The endpoint judges as cut what the script cut, and cuts what it would have (0.5.0's
    script sent it whole; see `navigation._as_judged`), by the script's own constants."""
    limits = (_constant("MAX_PATH"), _constant("VALUE_POINTS"))
    assert limits == (navigation._SENT_PATH, navigation._SENT_VALUE_POINTS)
    cut = f'path.lastIndexOf("/", MAX_PATH)) + "{navigation._CUT_MARK}";'
    assert cut.encode() in NAVIGATION_JS
    assert set(TAGS) == navigation._TAGS


def test_the_0_5_0_script_is_the_one_its_tag_names() -> None:
    """The file is 0.5.0's: its `?v=` is the hash its `script_tag` wrote into pages."""
    assert hashlib.sha256(OLD_SCRIPT).hexdigest()[:16] == OLD_VERSION
