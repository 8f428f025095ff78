"""Through a real uvicorn and the spool flushed at its shutdown: which HTML answers are page
views (`record="pages"`), by the request's own headers.

* A prefetch or prerender (`Sec-Purpose: prefetch`, `prefetch;prerender`, the legacy
  `Purpose: prefetch` and `X-Moz: prefetch`) is none; the navigation script's beacon for such a
  page shown (`"loaded": true`) is one, recorded field for field as the page's own GET.
* HTML asked for by a script or a subresource (`Sec-Fetch-Dest` other than document, iframe,
  frame) is none, answered 200 or 304; a document or frame is one.
* A `206 Partial Content` (a resumed download) is none.
* A client that sends no Fetch Metadata (curl, httpx, older browsers) is counted as before.

With `record="all"` a prefetch is a response served and is recorded; the beacon of that page
shown then records nothing, so it stays one row.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Receive, Scope, Send
from analytics.spool import list_segments, read_segment
from tests.support import uvicorn_server

SITE = "127.0.0.1"
BEACON = "/_nav"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
# What Chromium sends with a click on a link (a navigation to a document).
NAVIGATION = {
    "user-agent": CHROME,
    "accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "sec-fetch-dest": "document",
    "sec-fetch-mode": "navigate",
    "sec-fetch-site": "same-origin",
}
# What the navigation script's sendBeacon sends (text/plain, from a page of the site).
BEACON_HEADERS = {
    "user-agent": CHROME,
    "content-type": "text/plain;charset=UTF-8",
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "no-cors",
    "sec-fetch-site": "same-origin",
}


async def pages(scope: Scope, receive: Receive, send: Send) -> None:
    """Every path is an HTML page with an ETag; a Range is answered 206, a match 304."""
    headers = dict(scope["headers"])
    html = [(b"content-type", b"text/html; charset=utf-8"), (b"etag", b'"v1"')]
    body = b"<!doctype html><title>page</title><p>" + b"x" * 200
    if headers.get(b"if-none-match") == b'"v1"':
        await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"v1"')]})
        await send({"type": "http.response.body", "body": b""})
        return
    if headers.get(b"range") == b"bytes=100-":
        part = [*html, (b"content-range", f"bytes 100-{len(body) - 1}/{len(body)}".encode())]
        await send({"type": "http.response.start", "status": 206, "headers": part})
        await send({"type": "http.response.body", "body": body[100:]})
        return
    await send({"type": "http.response.start", "status": 200, "headers": html})
    await send({"type": "http.response.body", "body": body})


def make_app() -> Any:
    """uvicorn `--factory`: the pages, recorded as $RECORD says into $SPOOL."""
    recorder = Recorder(spool_dir=os.environ["SPOOL"], site=SITE, record=os.environ["RECORD"])
    return TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON)


def _events(spool: Path) -> list[dict[str, Any]]:
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    return sorted(events, key=lambda event: event["ts"])


def _serve(
    spool: Path, record: str, visit: Callable[[httpx.Client, str], None]
) -> list[dict[str, Any]]:
    with (
        uvicorn_server(
            "tests.test_recording_prefetches_fetches_and_ranges:make_app",
            env={"SPOOL": str(spool), "RECORD": record},
            factory=True,
        ) as (base, _),
        httpx.Client(base_url=base) as client,
    ):
        visit(client, base)
    return _events(spool)


@pytest.mark.parametrize(
    "purpose",
    [
        {"sec-purpose": "prefetch"},  # <link rel=prefetch>, speculation rules prefetch
        {"sec-purpose": "prefetch;prerender"},  # speculation rules prerender
        {"sec-purpose": "prefetch;anonymous-client-ip"},  # a search engine's private prefetch
        {"sec-purpose": "Prefetch ; prerender"},
        {"purpose": "prefetch"},  # Chrome before Sec-Purpose
        {"x-moz": "prefetch"},  # Firefox before Sec-Purpose
    ],
)
def test_a_prefetch_is_no_page_view(tmp_path: Path, purpose: dict[str, str]) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        assert client.get("/ahead", headers={**NAVIGATION, **purpose}).status_code == 200
        assert client.get("/shown", headers=NAVIGATION).status_code == 200

    events = _serve(tmp_path / "spool", "pages", visit)
    assert [event["path"] for event in events] == ["/shown"]


@pytest.mark.parametrize(
    "referer", ["https://www.google.com/", "http://127.0.0.1:9/from/here", None]
)
def test_the_beacon_of_a_prefetched_page_shown_records_its_request(
    tmp_path: Path, referer: str | None
) -> None:
    """The page's own request (a prefetch, not counted) and its beacon once shown: one event,
    equal but for the time to the event of the same page requested plainly."""
    path = "/docs/start?utm_source=newsletter&utm_medium=email"
    from_page = {"referer": referer} if referer else {}

    def visit(client: httpx.Client, base: str) -> None:
        prefetch = {**NAVIGATION, **from_page, "sec-purpose": "prefetch;prerender"}
        assert client.get(path, headers=prefetch).status_code == 200
        referrer = f'"{referer}"' if referer else '""'
        reply = client.post(
            BEACON,
            content=f'{{"path": "{path}", "referrer": {referrer}, "loaded": true}}',
            headers={**BEACON_HEADERS, "origin": base, "referer": base + path},
        )
        assert reply.status_code == 204
        assert client.get(path, headers={**NAVIGATION, **from_page}).status_code == 200

    beaconed, requested = _serve(tmp_path / "spool", "pages", visit)
    beaconed.pop("ts"), requested.pop("ts")
    assert beaconed == requested
    assert requested["path"] == "/docs/start"
    assert requested["utm_source"] == "newsletter"
    assert requested["visitor_id"] is not None


@pytest.mark.parametrize(
    "body",
    [
        '{"path": "/a", "referrer": "not a url", "loaded": true}',
        '{"path": "/a", "referrer": "/relative", "loaded": true}',
        '{"path": "/a", "referrer": 7, "loaded": true}',
        '{"path": "a", "referrer": "", "loaded": true}',
    ],
)
def test_a_page_load_beacon_with_a_bad_referrer_or_path_is_refused(
    tmp_path: Path, body: str
) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        headers = {**BEACON_HEADERS, "origin": base}
        assert client.post(BEACON, content=body, headers=headers).status_code == 400

    assert _serve(tmp_path / "spool", "pages", visit) == []


def test_with_record_all_a_prefetch_is_recorded_and_its_beacon_adds_nothing(
    tmp_path: Path,
) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        prefetch = {**NAVIGATION, "sec-purpose": "prefetch"}
        assert client.get("/ahead", headers=prefetch).status_code == 200
        reply = client.post(
            BEACON,
            content='{"path": "/ahead", "referrer": "", "loaded": true}',
            headers={**BEACON_HEADERS, "origin": base},
        )
        assert reply.status_code == 204
        # A client-side navigation's beacon is still recorded (no request stands for it).
        reply = client.post(
            BEACON,
            content='{"path": "/next", "from": "/ahead"}',
            headers={**BEACON_HEADERS, "origin": base},
        )
        assert reply.status_code == 204

    events = _serve(tmp_path / "spool", "all", visit)
    assert [event["path"] for event in events] == ["/ahead", "/next"]


@pytest.mark.parametrize("dest", ["empty", "script", "image", "style", "Empty"])
def test_html_fetched_by_a_script_or_a_subresource_is_no_page_view(
    tmp_path: Path, dest: str
) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        fetched = {"user-agent": CHROME, "sec-fetch-dest": dest, "hx-request": "true"}
        assert client.get("/fragment", headers=fetched).status_code == 200
        revalidated = {**fetched, "if-none-match": '"v1"'}
        assert client.get("/fragment", headers=revalidated).status_code == 304
        assert client.get("/page", headers=NAVIGATION).status_code == 200

    events = _serve(tmp_path / "spool", "pages", visit)
    assert [event["path"] for event in events] == ["/page"]


def test_documents_and_frames_are_page_views_answered_200_or_304(tmp_path: Path) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        for dest in ("document", "iframe", "frame"):
            headers = {**NAVIGATION, "sec-fetch-dest": dest}
            assert client.get(f"/{dest}", headers=headers).status_code == 200
            revalidated = {**headers, "if-none-match": '"v1"'}
            assert client.get(f"/{dest}", headers=revalidated).status_code == 304

    events = _serve(tmp_path / "spool", "pages", visit)
    assert [event["path"] for event in events] == ["/document"] * 2 + ["/iframe"] * 2 + [
        "/frame"
    ] * 2


def test_a_partial_content_answer_is_no_page_view(tmp_path: Path) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        assert client.get("/ranged", headers=NAVIGATION).status_code == 200
        for _ in range(3):  # a download manager resuming the file
            resumed = {"user-agent": CHROME, "range": "bytes=100-"}
            assert client.get("/ranged", headers=resumed).status_code == 206

    events = _serve(tmp_path / "spool", "pages", visit)
    assert [(event["path"], event["status"]) for event in events] == [("/ranged", 200)]


def test_a_206_is_still_a_row_with_record_all(tmp_path: Path) -> None:
    def visit(client: httpx.Client, base: str) -> None:
        resumed = {"user-agent": CHROME, "range": "bytes=100-"}
        assert client.get("/ranged", headers=resumed).status_code == 206

    events = _serve(tmp_path / "spool", "all", visit)
    assert [(event["path"], event["status"]) for event in events] == [("/ranged", 206)]


def test_a_client_without_fetch_metadata_is_counted_as_before(tmp_path: Path) -> None:
    """curl, plain httpx, older browsers: a GET answered HTML is a page view; a 304 is one
    when the request asks for HTML."""

    def visit(client: httpx.Client, base: str) -> None:
        plain = {"user-agent": CHROME}
        assert client.get("/plain", headers=plain).status_code == 200
        html = {**plain, "accept": "text/html", "if-none-match": '"v1"'}
        assert client.get("/revalidated", headers=html).status_code == 304
        anything = {**plain, "accept": "*/*", "if-none-match": '"v1"'}
        assert client.get("/not-a-page", headers=anything).status_code == 304

    events = _serve(tmp_path / "spool", "pages", visit)
    assert [event["path"] for event in events] == ["/plain", "/revalidated"]
