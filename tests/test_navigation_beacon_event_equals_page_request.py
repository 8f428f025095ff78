"""A navigation's event is, field for field, the event of a browser's GET of the same URL
from the same page: through a real uvicorn, the request target written byte for byte (no
client normalising it), across paths and query strings that redaction, decoding and UTM
extraction treat specially. Only the time differs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments, read_segment
from tests.recording_support import html_app
from tests.support import uvicorn_server

SITE = "127.0.0.1"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
CAME_FROM = "/catalogue/shoes?colour=red&page=2"
# As `location.pathname + location.search` writes them: what a browser sends for the page.
URLS = [
    "/",
    "/pricing",
    "/UPPER/Case/",
    "/users/jane.doe@example.org/orders",
    "/users/jane.doe%40example.org/orders",
    "/reset/Zx9Qw3Er7Ty1Ui5Op2As8Df4",
    "/reset/q3Vt8LmZ%2FpR4xK9w%2Fabc123XYZ",
    "/files/a%2Fb",
    "/files/a%2fb/c",
    "/cart;jsessionid=0123456789ABCDEF0123456789ABCDEF",
    "/cart;jsessionid=abc/next",
    "/caf%C3%A9/menu",
    "/%E2%80%AEevil",
    "/bad%zz/x",
    "/bad%ff/x",
    "/bad%C3/x",
    "/%",
    "/a%00b",
    "/a%0Ab",
    "/a%20b+c",
    "/%2e%2e/x",
    "/a/../b/./c",
    "/~user/",
    "/order/550e8400-e29b-41d4-a716-446655440000",
    "/n/12345678901234567890",
    "/" + "long-segment/" * 150,
    "/docs?utm_source=news&utm_medium=email&utm_campaign=spring",
    "/docs?utm_source=jane.doe%40example.org&utm_campaign=Zx9Qw3Er7Ty1Ui5Op2As8Df4",
    "/docs?ref=producthunt",
    "/docs?source=twitter&utm_medium=social",
    "/docs?utm_source=%ff%fe&utm_medium=a+b",
    "/docs?utm_source=caf%C3%A9",
    "/docs?email=jane@example.org&token=abc",
    "/docs?",
    "/docs?&&=&utm_source=",
    "/report.pdf",
    "/index.html?utm_source=x",
]


def make_app() -> Any:
    """uvicorn `--factory`: every URL answers HTML; events spool to $EQUAL_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["EQUAL_SPOOL"], site=SITE)
    return TrafficMiddleware(html_app, recorder=recorder, navigation_beacon="/_nav")


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def _get(port: int, target: str, referer: str) -> bytes:
    head = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME}\r\n"
        f"Accept: text/html\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Site: same-origin\r\n"
        f"Referer: {referer}\r\nConnection: close\r\n\r\n"
    )
    return _exchange(port, head.encode())


def _beacon(port: int, to: str, came_from: str) -> bytes:
    body = json.dumps({"path": to, "from": came_from}).encode()
    head = (
        f"POST /_nav HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME}\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Sec-Fetch-Site: same-origin\r\nSec-Fetch-Dest: empty\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return _exchange(port, head.encode() + body)


def _events_in_order(spool: Path) -> list[dict[str, Any]]:
    """Every event in `spool`, in the order of their time, without it (a page and its beacon
    differ in nothing else)."""
    rows = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    rows.sort(key=lambda row: row["ts"])
    for row in rows:
        del row["ts"]
    return rows


def test_a_navigation_is_recorded_as_a_get_of_the_same_url(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with uvicorn_server(
        "tests.test_navigation_beacon_event_equals_page_request:make_app",
        env={"EQUAL_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        for url in URLS:
            assert _get(port, url, base + CAME_FROM).startswith(b"HTTP/1.1 200 "), url
        for url in URLS:
            assert _beacon(port, url, CAME_FROM).startswith(b"HTTP/1.1 204 "), url
    rows = _events_in_order(spool)
    assert len(rows) == 2 * len(URLS)
    served, navigated = rows[: len(URLS)], rows[len(URLS) :]
    for url, page, navigation in zip(URLS, served, navigated, strict=True):
        assert navigation == page, url
    assert navigated[0]["visitor_id"] is not None
    assert {row["referrer_medium"] for row in navigated} == {"internal"}


# Client-side navigations (from, to) as `location.pathname + location.search` writes them, and
# the beacon the script sends for each, (path, from): the tags of the page shown, the path of
# the page left, and its query (reduced as the page's) only where it is the page shown's own
# (an empty one where the path alone would be the page shown). A page request's Referer over
# 4096 bytes is cut to the origin by the browser (`browsers_referer`). A tag's value is sent cut
# to 200 code points, never inside a character (the server stores 100); last, the tags so cut,
# which the beacon's event stores as `:redacted` (the server cannot judge the rest, which the
# page's own request had judged whole), where that request stored their first 100 characters.
LONG = 20_000
EMOJI = "%F0%9F%98%80"
TAGS = ("utm_source", "utm_medium", "utm_campaign", "ref", "source")
LONG_TAGS = "&".join(f"{tag}={tag[-1] * 1000}" for tag in TAGS)
CUT_TAGS = "&".join(f"{tag}={tag[-1] * 200}" for tag in TAGS)
THREE_LONG_TAGS = LONG_TAGS.split("&ref=")[0]
THREE_CUT_TAGS = CUT_TAGS.split("&ref=")[0]
# The longest page a beacon can name: a path past the script's cut, five tags of emoji.
LONG_PATH = "/" + "segment/" * 600
EMOJI_TAGS = "&".join(f"{tag}={EMOJI * 250}" for tag in TAGS)
CUT_PATH = LONG_PATH[: LONG_PATH.rindex("/", 0, 4096 + 1)] + "/%E2%80%A6"  # within 4096
CUT_EMOJI_TAGS = "&".join(f"{tag}={EMOJI * 200}" for tag in TAGS)
CUT = ("utm_source", "utm_medium", "utm_campaign")  # the stored tags, all cut
# What the page's own request judges past the script's cut (review 230: the beacon stored
# more): a query encoded into the path whose `=` lies past the cut, an address past a tag's
# 200th code point, one long segment (a token).
EMBEDDED_QUERY_PAST_CUT = "/go/cb%3Fsecret" + "/abcdefgh" * 500 + "/x=1"
ADDRESS_PAST_200 = "/landing?utm_campaign=" + "spring+sale+" * 25 + "jane%40example.com"
NAVIGATIONS = [
    (  # two long queries: a 413 when the script sent them whole, the page view lost
        f"/search?q={'x' * LONG}&utm_source=old",
        f"/results?utm_source=news&q={'y' * LONG}&utm_campaign=spring",
        "/results?utm_source=news&utm_campaign=spring",
        "/",  # past the Referer's limit: the origin
        (),
    ),
    ("/search?q=shoes", "/search?q=boots", "/search", "/search?", ()),  # no tag: the same path
    ("/a?utm_source=x&q=1", "/a?utm_source=x&q=2", "/a?utm_source=x", "/a", ()),  # a new query
    # The very page, its path spelled otherwise: seen again, its tags not a new arrival's.
    ("/a?utm_source=x", "/%61?utm_source=x", "/%61?utm_source=x", "/a?utm_source=x", ()),
    # The same with a tag cut: the page left's is cut (and judged) as the page's, so it is
    # still the very page (its tags stored as none, as the page's own request stores them).
    (
        "/a?utm_source=" + "x" * 300,
        "/%61?utm_source=" + "x" * 300,
        "/%61?utm_source=" + "x" * 200,
        "/a?utm_source=" + "x" * 200,
        (),
    ),
    # The same, past the Referer's limit: the browser sends the origin, which names no page.
    (
        f"/a?utm_source=x&q={'z' * 4100}",
        f"/%61?utm_source=x&q={'z' * 4100}",
        "/%61?utm_source=x",
        "/",
        (),
    ),
    # The same query on another page: the page left's query cannot name the page shown.
    ("/a?" + THREE_LONG_TAGS, "/b?" + THREE_LONG_TAGS, "/b?" + THREE_CUT_TAGS, "/a", CUT),
    ("/a", "/b?" + LONG_TAGS, "/b?" + CUT_TAGS, "/a", CUT),  # five long tags: a 413 at 1000
    ("/" + "p" * 4090, "/n", "/n", "/", ()),  # a page left past the Referer's limit: its origin
    ("/a", "/b?utm_campaign=" + EMOJI * 150, "/b?utm_campaign=" + EMOJI * 150, "/a", ()),  # whole
    ("/a", LONG_PATH + "?" + EMOJI_TAGS, CUT_PATH + "?" + CUT_EMOJI_TAGS, "/a", CUT),  # longest
    (
        "/a",
        EMBEDDED_QUERY_PAST_CUT,
        EMBEDDED_QUERY_PAST_CUT[: EMBEDDED_QUERY_PAST_CUT.rindex("/", 0, 4096 + 1)] + "/%E2%80%A6",
        "/a",
        (),
    ),
    ("/a", ADDRESS_PAST_200, ADDRESS_PAST_200[: ADDRESS_PAST_200.index("=") + 201], "/a", ()),
    ("/a", "/" + "ab" * 2300, "/%E2%80%A6", "/a", ()),  # one long segment
]
NAVIGATION_IDS = [
    "long-queries",
    "no-tags",
    "new-query",
    "same-page",
    "same-page-tag-cut",
    "same-page-past-referer-limit",
    "same-query-other-page",
    "five-long-tags",
    "page-left-past-referer-limit",
    "emoji-tag",
    "longest-page",
    "embedded-query-past-the-cut",
    "address-past-200-code-points",
    "one-long-segment",
]


# What 0.5.0's script sent, which browsers keep running after an upgrade (a tab opened before
# it, the script cached `immutable` for a year): both pages whole, (path, from) as `location`
# writes them. A tag twice, a tag value over 200 code points, a backslash in a query or a path
# past 4096 characters got a 400 (h280 F1: the page view lost). Each is recorded as the page's
# own request, what this script would have cut (the last field) as `:redacted`.
OLD_SCRIPT_NAVIGATIONS = [
    ("/a", "/b?utm_source=news&utm_source=ads", ()),
    ("/a", "/b?utm_source=%20&utm_source=ads&ref=x", ()),  # the first value that says something
    ("/a", "/b?utm_source=" + "+" * 250 + "&utm_source=ads", ()),  # a long blank one too
    ("/a", "/b?utm_campaign=" + "spring-sale-" * 21 + "&utm_source=x", ("utm_campaign",)),
    ("/a", "/b?utm_source=" + EMOJI * 250 + "&utm_source=x", ("utm_source",)),
    ("/a?utm_source=x&utm_source=y&utm_campaign=" + "c" * 250 + "&q=1", "/b", ()),  # page left
    ("/a", LONG_PATH + "?utm_medium=email", ()),
    ("/a", "/b?q=a\\b&utm_source=x\\y", ()),
    # the very page, spelled otherwise: judged alike, it still names itself (no tags stored)
    ("/a?utm_source=x&utm_source=y", "/%61?utm_source=x&utm_source=y", ()),
    ("/a?utm_source=" + "x" * 300, "/%61?utm_source=" + "x" * 300, ()),
]
OLD_SCRIPT_NAVIGATION_IDS = [
    "tag-twice",
    "blank-then-tag",
    "long-blank-then-tag",
    "tag-252",
    "emoji-tag-250",
    "page-left-whole",
    "path-4800",
    "backslash-in-query",
    "same-page-tag-twice",
    "same-page-tag-300",
]


def as_cut(event: dict[str, Any], cut: tuple[str, ...]) -> dict[str, Any]:
    """The page request's `event` as a beacon records it: the tags in `cut`, which the script
    cut, stored as `:redacted`, where that request stored their first 100 characters (or
    `:redacted` too: `eee…` is judged a hexadecimal token)."""
    return {**event, **dict.fromkeys(cut, ":redacted")}


def browsers_referer(base: str, came_from: str) -> str:
    """The Referer Chromium sends for a page followed to from `came_from`: the origin alone
    past 4096 bytes."""
    whole = base + came_from
    return whole if len(whole) <= 4096 else base + "/"


@pytest.mark.parametrize(
    "navigations",
    [
        NAVIGATIONS,
        # as 0.5.0's script sent them: whole
        [(came_from, to, to, came_from, cut) for came_from, to, cut in OLD_SCRIPT_NAVIGATIONS],
    ],
    ids=["this-script", "0.5.0-script"],
)
def test_a_beacon_as_the_script_sends_it_is_recorded_as_the_whole_navigation(
    tmp_path: Path, navigations: list[tuple[str, str, str, str, tuple[str, ...]]]
) -> None:
    spool = tmp_path / "spool"
    with uvicorn_server(
        "tests.test_navigation_beacon_event_equals_page_request:make_app",
        env={"EQUAL_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        for came_from, to, sent_path, sent_from, _ in navigations:
            referer = browsers_referer(base, came_from)
            assert _get(port, to, referer).startswith(b"HTTP/1.1 200 "), sent_path
            assert _beacon(port, sent_path, sent_from).startswith(b"HTTP/1.1 204 "), sent_path
    rows = _events_in_order(spool)
    assert len(rows) == 2 * len(navigations)
    for index, (_, _, sent_path, _, cut) in enumerate(navigations):
        served, navigated = rows[2 * index], rows[2 * index + 1]
        assert navigated == as_cut(served, cut), sent_path
        assert navigated["referrer_medium"] == "internal", sent_path
