"""Through a real uvicorn and the spool flushed at its shutdown (`record="pages"`):

* A preview (`X-Purpose: preview`: Safari's Top Sites thumbnails, Facebook's in-app browser
  fetching a linked page ahead) is no page view, as a prefetch is.
* A page shown in a fenced frame (`Sec-Fetch-Dest: fencedframe`) is one, as an iframe's is,
  answered 200 or 304.
* The navigation beacon refuses a page load's body whose referrer has a scheme no browser
  writes into `document.referrer` for a page (`javascript://host/…`, `ftp://…`), or whose
  `loaded` is not a JSON boolean (`"true"` was taken as a navigation from `/`), with a 400
  that names both bodies the script sends; http(s) and android-app referrers are recorded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Receive, Scope, Send
from analytics.navigation import NAVIGATION_JS
from analytics.paths import _SOURCE_FALLBACKS, _TAG_KEYS
from analytics.spool import list_segments, read_segment
from tests.support import uvicorn_server
from tests.test_recording_prefetches_fetches_and_ranges import BEACON_HEADERS, NAVIGATION

SITE = "127.0.0.1"
BEACON = "/_nav"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Safari/605.1.15"
)
BOTH_BODIES = (
    'the body must be {"path": "/…", "from": "/…"} or'
    ' {"path": "/…", "referrer": "https://…" or "", "loaded": true}'
)


async def pages(scope: Scope, receive: Receive, send: Send) -> None:
    """Every path is an HTML page with an ETag, answered 304 when it matches."""
    if dict(scope["headers"]).get(b"if-none-match") == b'"v1"':
        await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"v1"')]})
        await send({"type": "http.response.body", "body": b""})
        return
    html = [(b"content-type", b"text/html; charset=utf-8"), (b"etag", b'"v1"')]
    await send({"type": "http.response.start", "status": 200, "headers": html})
    await send({"type": "http.response.body", "body": b"<!doctype html><title>page</title>"})


def make_app() -> Any:
    """uvicorn `--factory`: the pages, recorded into $SPOOL."""
    recorder = Recorder(spool_dir=os.environ["SPOOL"], site=SITE)
    return TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON)


def _serve(spool: Path, visit: Callable[[httpx.Client, str], None]) -> list[dict[str, Any]]:
    with (
        uvicorn_server(
            "tests.test_page_views_previews_fenced_frames_and_beacon_bodies:make_app",
            env={"SPOOL": str(spool)},
            factory=True,
        ) as (base, _),
        httpx.Client(base_url=base) as client,
    ):
        visit(client, base)
    events = [row for seg in list_segments(spool) for row in read_segment(seg.path).to_pylist()]
    return sorted(events, key=lambda event: event["ts"])


def test_a_preview_is_no_page_view(tmp_path: Path) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        previews = [
            {"user-agent": SAFARI, "x-purpose": "preview"},  # Safari's Top Sites thumbnail
            {**NAVIGATION, "x-purpose": "preview"},  # Facebook's in-app browser, ahead
            {**NAVIGATION, "X-Purpose": "Preview"},
            {**NAVIGATION, "purpose": "preview"},
        ]
        for number, headers in enumerate(previews):
            assert client.get(f"/preview-{number}", headers=headers).status_code == 200
        assert client.get("/shown", headers={"user-agent": SAFARI}).status_code == 200
        shown = {**NAVIGATION, "x-purpose": "something-else"}  # not a purpose we know of
        assert client.get("/shown-too", headers=shown).status_code == 200

    events = _serve(tmp_path / "spool", visit)
    assert [event["path"] for event in events] == ["/shown", "/shown-too"]


def test_a_page_in_a_fenced_frame_is_a_page_view_answered_200_or_304(tmp_path: Path) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        fenced = {**NAVIGATION, "sec-fetch-dest": "fencedframe", "sec-fetch-site": "cross-site"}
        assert client.get("/ad-slot", headers=fenced).status_code == 200
        revalidated = {**fenced, "if-none-match": '"v1"'}
        assert client.get("/ad-slot", headers=revalidated).status_code == 304
        # A subresource of that frame is still none.
        image = {**fenced, "sec-fetch-dest": "image", "if-none-match": '"v1"'}
        assert client.get("/ad-slot", headers=image).status_code == 304

    events = _serve(tmp_path / "spool", visit)
    assert [(event["path"], event["status"]) for event in events] == [
        ("/ad-slot", 200),
        ("/ad-slot", 304),
    ]


REFUSED_BODIES = [
    # A scheme with a host that is no page: no browser writes it as document.referrer.
    {"path": "/a", "referrer": "javascript://evil.example/%0aalert(1)", "loaded": True},
    {"path": "/a", "referrer": "ftp://files.example/pub/", "loaded": True},
    {"path": "/a", "referrer": "data://evil.example/x", "loaded": True},
    {"path": "/a", "referrer": "chrome-extension://abcdefgh/page.html", "loaded": True},
    # `loaded` that is not a JSON boolean: was taken as a navigation from "/".
    {"path": "/a", "referrer": "", "loaded": "true"},
    {"path": "/a", "loaded": "true"},
    {"path": "/a", "referrer": "", "loaded": 1},
    {"path": "/a", "from": "/b", "loaded": None},
    # A bad referrer with a page load, and a bad `from`: the same message names both forms.
    {"path": "/a", "referrer": 123, "loaded": True},
    {"path": "/a", "from": "b"},
]


def test_page_load_bodies_no_browser_sends_are_refused_naming_both_forms(
    tmp_path: Path,
) -> None:
    answers: list[tuple[int, Any]] = []

    def visit(client: httpx.Client, base: str) -> None:
        headers = {**BEACON_HEADERS, "origin": base}
        for body in REFUSED_BODIES:
            reply = client.post(BEACON, content=json.dumps(body), headers=headers)
            answers.append((reply.status_code, reply.json()))

    assert _serve(tmp_path / "spool", visit) == []
    assert answers == [(400, {"error": BOTH_BODIES})] * len(REFUSED_BODIES)


def test_page_load_beacons_from_pages_and_android_apps_are_recorded(tmp_path: Path) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        headers = {**BEACON_HEADERS, "origin": base}
        bodies = [
            {"path": "/gmail", "referrer": "android-app://com.google.android.gm/", "loaded": True},
            {"path": "/search", "referrer": "HTTPS://WWW.GOOGLE.COM/", "loaded": True},
            {"path": "/direct", "referrer": "", "loaded": True},
            {"path": "/moved", "from": "/direct", "loaded": False},  # a navigation
        ]
        for body in bodies:
            assert client.post(BEACON, content=json.dumps(body), headers=headers).status_code == 204
        # The beacon's own purpose header describes the beacon, not the page it stands for.
        preview = {**headers, "x-purpose": "preview"}
        after = json.dumps({"path": "/after-preview", "from": "/moved"})
        assert client.post(BEACON, content=after, headers=preview).status_code == 204

    events = _serve(tmp_path / "spool", visit)
    assert [
        (event["path"], event["referrer_domain"], event["referrer_medium"]) for event in events
    ] == [
        ("/gmail", "com.google.android.gm", "email"),
        ("/search", "google.com", "search"),
        ("/direct", None, "direct"),
        ("/moved", "(ip)", "internal"),  # an address is never stored
        ("/after-preview", "(ip)", "internal"),
    ]


def test_the_script_keeps_the_query_keys_the_recorder_reads() -> None:
    """navigation.js sends of a page load's query only the pairs `extract_utm` reads: its list
    is a copy, checked here so that a tag the recorder learns is not dropped by the script."""
    found = re.search(r"var TAGS = \{([^}]*)\}", NAVIGATION_JS.decode())
    assert found is not None
    sent = set(re.findall(r"(\w+): true", found.group(1)))
    assert sent == set(_TAG_KEYS) | set(_SOURCE_FALLBACKS)
