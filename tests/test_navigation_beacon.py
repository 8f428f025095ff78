"""A single-page app's client-side navigations, counted by `navigation_beacon`: the beacon
endpoint and its script, in process, through the real TrafficMiddleware, Recorder and spool
(and cookiewall's gate in front where consent matters)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Receive, Scope, Send
from analytics.navigation import (
    _CUT_OFF,
    MAX_BODY,
    NAVIGATION_JS,
    SCRIPT_INTEGRITY,
    Navigation,
    script_tag,
)
from analytics.referrers import MAX_REFERRER_LENGTH
from analytics.spool import list_segments
from cookiewall import Category, ConsentMiddleware, Policy
from tests.recording_support import SITE, spooled

BEACON = "/_navigation"
ORIGIN = "https://example.com"
ADDRESS = "198.51.100.23"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36 NavProbe/4.4"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BROWSER = {"user-agent": CHROME, "origin": ORIGIN, "sec-fetch-site": "same-origin"}
TEXT = {"content-type": "text/plain;charset=UTF-8"}
CUT_MARK = "/%E2%80%A6"  # how the script ends a path it cut past 4096 characters
SEGMENTS = "/segment" * 600
POLICY = Policy(
    version="nav-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[],
)


class App:
    """An app answering every request with HTML, remembering the paths it was asked for."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope["path"])
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<p>page</p>"})


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE, exclude_paths=["/admin/*"])
    yield recorder
    recorder.close()


def _client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ADDRESS, 50123))
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)


def _request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with _client(app) as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def _body(path: str = "/a", **fields: object) -> bytes:
    return json.dumps({"path": path, **fields}).encode()


def _beacon(app: Any, body: object, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _request(app, "POST", BEACON, content=content, headers={**BROWSER, **TEXT, **headers})


def test_a_navigation_is_one_page_view_of_the_page_navigated_to(recorder: Recorder) -> None:
    app = App()
    wrapped = TrafficMiddleware(app, recorder=recorder, navigation_beacon=BEACON)
    landing = _request(wrapped, "GET", "/?utm_source=ads", headers={
        "user-agent": CHROME, "referer": "https://news.ycombinator.com/"})  # fmt: skip
    assert landing.status_code == 200
    reply = _beacon(wrapped, {"path": "/pricing?utm_source=newsletter&plan=42", "from": "/"})
    assert (reply.status_code, reply.content) == (204, b"")
    assert reply.headers["cache-control"] == "no-store"
    assert app.seen == ["/"], "the beacon is answered by the middleware, never by the app"
    first, navigated = spooled(recorder)
    assert (first["path"], first["referrer_medium"]) == ("/", "social")
    assert navigated["path"] == "/pricing"
    assert (navigated["method"], navigated["status"]) == ("GET", 200)
    # The page navigated from is the referrer: internal, not the landing's external one again.
    assert (navigated["referrer_host"], navigated["referrer_medium"]) == (SITE, "internal")
    assert navigated["utm_source"] == "newsletter"
    assert (navigated["device"], navigated["is_bot"], navigated["consent"]) == (
        "desktop", False, "undecided")  # fmt: skip
    # Same address and user agent: the visitor of the landing page, not a new one.
    assert navigated["visitor_id"] is not None
    assert navigated["visitor_id"] == first["visitor_id"]


@pytest.mark.parametrize(
    ("to", "stored"),
    [
        ("/users/jane.doe@example.org/orders", "/users/:redacted/orders"),
        ("/reset/Zx9Qw3Er7Ty1Ui5Op2As8Df4", "/reset/:redacted"),
        ("/caf%C3%A9/menu", "/café/menu"),  # decoded as a server decodes the request path
        ("/files/a%2Fb", "/files/a%2Fb"),  # an encoded slash kept as sent, as for a request
        ("/docs/start?q=secret", "/docs/start"),
        ("/", "/"),
        # The longest path the script sends whole, and one it cut (past 4096, at a segment):
        # stored cut at 512 as a request's, what was cut off `:redacted` (it was not judged).
        (SEGMENTS[:4096], SEGMENTS[: SEGMENTS.rindex("/", 0, 512)] + "/…"),
        (SEGMENTS[: SEGMENTS.rindex("/", 0, 4097)] + CUT_MARK, SEGMENTS[:504] + "/…"),
        ("/pricing" + CUT_MARK, "/pricing/:redacted"),
        (CUT_MARK, "/:redacted"),
    ],
)
def test_the_path_is_stored_as_a_server_seen_page_would_be(
    recorder: Recorder, to: str, stored: str
) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    assert _beacon(wrapped, {"path": to, "from": "/elsewhere"}).status_code == 204
    assert [event["path"] for event in spooled(recorder)] == [stored]


@pytest.mark.parametrize(
    ("headers", "visitor", "is_bot", "device"),
    [
        ({}, True, False, "desktop"),
        ({"sec-gpc": "1"}, False, False, "desktop"),
        ({"dnt": "1"}, False, False, "desktop"),
        ({"sec-gpc": "0"}, True, False, "desktop"),
        ({"user-agent": GOOGLEBOT}, True, True, "bot"),
    ],
)
def test_signals_and_bots_are_read_from_the_beacon_request(
    recorder: Recorder, headers: dict[str, str], visitor: bool, is_bot: bool, device: str
) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    assert _beacon(wrapped, {"path": "/next", "from": "/"}, **headers).status_code == 204
    (event,) = spooled(recorder)
    assert (event["visitor_id"] is not None, event["is_bot"], event["device"]) == (
        visitor, is_bot, device)  # fmt: skip


@pytest.mark.parametrize(
    ("method", "body", "headers", "status"),
    [
        # any method but POST
        ("GET", b"", {}, 405),
        ("PUT", b'{"path": "/a"}', {}, 405),
        ("DELETE", b"", {}, 405),
        ("OPTIONS", b"", {"access-control-request-method": "POST"}, 405),
        ("HEAD", b"", {}, 405),
        # another origin: a cross-site page must not inject page views
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "cross-site"}, 403),
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "same-site"}, 403),
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "none"}, 403),
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "same-origin, cross-site"}, 403),
        # no Fetch Metadata (an older browser): Origin, or else Referer, decides
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "", "origin": "https://evil.example"}, 403),
        (
            "POST",
            b'{"path": "/a"}',
            {"sec-fetch-site": "", "origin": "https://example.com.evil.example"},
            403,
        ),
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "", "origin": "http://example.com"}, 403),
        # a sandboxed frame or a data: URL
        ("POST", b'{"path": "/a"}', {"sec-fetch-site": "", "origin": "null"}, 403),
        (
            "POST",
            b'{"path": "/a"}',
            {"origin": "", "sec-fetch-site": "", "referer": "https://evil.example/page"},
            403,
        ),
        # a form post (the one kind a cross-site page can send without CORS) and other types
        ("POST", b"path=/a", {"content-type": "application/x-www-form-urlencoded"}, 415),
        ("POST", b"--x--", {"content-type": "multipart/form-data; boundary=x"}, 415),
        ("POST", b'{"path": "/a"}', {"content-type": "text/html"}, 415),
        ("POST", b'{"path": "/a"}', {"content-type": ""}, 415),
        # too big: refused by its Content-Length before it is read, or while it is read
        ("POST", b'{"path": "/' + b"a" * MAX_BODY + b'"}', {}, 413),
        ("POST", b'{"path": "/a"}', {"content-length": "99999999999999999999"}, 400),
        # malformed bodies
        ("POST", b"", {}, 400),
        ("POST", b"not json", {}, 400),
        ("POST", b"\xff\xfe{}", {}, 400),
        ("POST", b"[" * 2000 + b"]" * 2000, {}, 400),
        ("POST", b'["/a"]', {}, 400),
        ("POST", b'"/a"', {}, 400),
        ("POST", b"{}", {}, 400),
        ("POST", b'{"path": null}', {}, 400),
        ("POST", b'{"path": 7}', {}, 400),
        ("POST", b'{"path": ["/a"]}', {}, 400),
        ("POST", b'{"path": "/a", "from": 3}', {}, 400),
        ("POST", b'{"path": "/a", "from": "elsewhere"}', {}, 400),
        # not an absolute path
        ("POST", b'{"path": ""}', {}, 400),
        ("POST", b'{"path": "pricing"}', {}, 400),
        ("POST", b'{"path": "//evil.example/x"}', {}, 400),
        ("POST", b'{"path": "https://evil.example/x"}', {}, 400),
        ("POST", b'{"path": "/\\\\evil.example"}', {}, 400),
        ("POST", b'{"path": "/a#section"}', {}, 400),
        ("POST", b'{"path": "/a b"}', {}, 400),
        ("POST", b'{"path": "/a\\nb"}', {}, 400),
        ("POST", b'{"path": "/a\\u0000"}', {}, 400),
        ("POST", b'{"path": "/caf\\u00e9"}', {}, 400),  # a browser sends it escaped
        ("POST", b'{"path": "/\\ud800"}', {}, 400),
        # the same page again is no navigation
        ("POST", b'{"path": "/a", "from": "/a"}', {}, 400),
        # a backslash in a path, the page left's too (in a query it is a browser's: below)
        ("POST", b'{"path": "/a\\\\b?q=1"}', {}, 400),
        ("POST", b'{"path": "/a", "from": "/\\\\evil.example?q=1"}', {}, 400),
    ],
)
def test_bad_beacons_are_refused_and_record_nothing(
    recorder: Recorder, method: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    app = App()
    wrapped = TrafficMiddleware(app, recorder=recorder, navigation_beacon=BEACON)
    sent = {key: value for key, value in {**BROWSER, **TEXT, **headers}.items() if value}
    if "content-type" in headers and not headers["content-type"]:
        sent["content-type"] = ""  # sent empty, not left out
    reply = _request(wrapped, method, BEACON, content=body, headers=sent)
    assert reply.status_code == status
    if method != "HEAD":
        assert set(reply.json()) == {"error"}
    if status == 405:
        assert reply.headers["allow"] == "POST"
    assert app.seen == []
    assert spooled(recorder) == []


# What 0.5.0's script sends, which browsers keep running after an upgrade (a tab opened before
# it, the script cached `immutable` for a year): both pages whole, a page load's tags each time
# they come and uncut, a backslash in a query as the browser writes it. A 400 before (h280 F1:
# the page view lost); each is stored as the page's own request stores it (extract_utm reads a
# tag's first value that says something), but what this script would have cut (a tag value of
# 200 code points or more, a path past 4096 characters) is `:redacted`, as when it cuts it.
LOADED_TAGS = "/a?utm_source=x&utm_source=y&utm_medium=" + "m" * 250
OLD_SCRIPT_BEACONS = [
    pytest.param(_body("/a?utm_source=x&utm_source=y", **{"from": "/"}), "/a", ("x", None, None),
                 id="tag-twice"),
    pytest.param(_body("/a?utm_source=x&utm%5Fsource=y"), "/a", ("x", None, None),
                 id="tag-twice-escaped"),
    pytest.param(_body("/a?utm_source=%20&utm_source=y&ref=z&source=w"), "/a", ("y", None, None),
                 id="blank-then-tag"),
    pytest.param(_body("/a?utm_source=" + "+" * 300 + "&utm_source=y"), "/a", ("y", None, None),
                 id="long-blank-then-tag"),
    pytest.param(_body("/a?source=" + "%E2%80%AE" * 250 + "&ref=y"), "/a", ("y", None, None),
                 id="long-controls-then-tag"),
    pytest.param(_body("/a?utm_campaign=" + "spring-" * 35 + "&utm_campaign=x"), "/a",
                 (None, None, ":redacted"), id="long-tag-then-tag"),
    pytest.param(_body("/a?utm_medium=" + "x" * 201), "/a", (None, ":redacted", None),
                 id="tag-201"),
    pytest.param(_body("/a?ref=" + "4111+1111+" * 3000), "/a", (":redacted", None, None),
                 id="tag-30000"),
    pytest.param(_body("/a?utm_source=x\\y&q=a\\b"), "/a", ("x\\y", None, None),
                 id="backslash-in-query"),
    pytest.param(_body("/" + "a" * 4096), "/:redacted", (None, None, None), id="path-4097"),
    pytest.param(_body("/" + "a" * 4096 + CUT_MARK), "/:redacted", (None, None, None),
                 id="path-4097-ending-in-the-cut-mark"),
    pytest.param(_body(SEGMENTS * 5), SEGMENTS[:504] + "/…", (None, None, None),
                 id="path-24000"),
    # the page left, whole: only its site is stored
    pytest.param(_body("/a", **{"from": "/b?source=" + "%C3%A9" * 201 + "&source=x&q=\\"}),
                 "/a", (None, None, None), id="page-left-whole"),
    # a page load's: its tags each time they come, uncut; its referrer's origin, or the page
    # itself (then still the very page: its tags are not a new arrival's, none are stored)
    pytest.param(
        _body(LOADED_TAGS, loaded=True, referrer="https://news.example"),
        "/a", ("x", ":redacted", None), id="page-load",
    ),
    pytest.param(
        _body(LOADED_TAGS, loaded=True, referrer=ORIGIN + LOADED_TAGS),
        "/a", (None, None, None), id="page-load-its-own-referrer",
    ),
    pytest.param(
        _body("/a", referrer="https://example.com/a?utm_medium=" + "x" * 201, loaded=True),
        "/a", (None, None, None), id="page-load-referrer",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "path", "tags"), OLD_SCRIPT_BEACONS)
def test_what_the_0_5_0_script_sends_is_recorded_as_the_page_request(
    recorder: Recorder, body: bytes, path: str, tags: tuple[str | None, ...]
) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    assert _beacon(wrapped, body).status_code == 204
    (event,) = spooled(recorder)
    assert event["path"] == path
    assert (event["utm_source"], event["utm_medium"], event["utm_campaign"]) == tags


@pytest.mark.parametrize(
    "body",
    [
        _body("/a?ref=" + "4111+1111+" * 3200),
        _body("/a?" + "utm_source=%20&" * 2100 + "utm_source=" + "4111+1111+" * 19),
        _body("/" + "%FF%FEab/" * 3500),
        _body("/" + "a" * 32_000),
        _body("/a", **{"from": "/b?utm_campaign=" + "4111+1111+" * 400}),  # within 4096
    ],
    ids=["32k-tag", "2100-blank-tags", "32k-path", "32k-segment", "4k-tag-left"],
)
def test_a_long_body_gives_the_recorder_no_more_than_the_script_sends(body: bytes) -> None:
    """Accepted (above) but bounded: the recorder judges a path and tag values no longer than
    the script's (judged whole, a 32 KiB path or tag cost it up to 0.15 s of CPU)."""
    pages: list[Scope] = []
    endpoint = Navigation(BEACON, lambda _, page, __: pages.append(page))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    assert len(body) <= MAX_BODY
    asyncio.run(endpoint(_scope(), receive, send, BEACON))
    assert sent[0]["status"] == 204
    (page,) = pages
    assert len(page["raw_path"]) <= len(SEGMENTS[:4096]) + len("/" + _CUT_OFF)
    referer = dict(page["headers"]).get(b"referer", b"")
    for query in (page["query_string"], referer.partition(b"?")[2]):
        for pair in query.decode().split("&"):
            value = pair.partition("=")[2]
            # each value that says something is as the script sends it (199 code points at
            # most) or cut; a blank one, passed over, costs the recorder a split
            said = unquote_plus(value).split()
            assert not said or value == _CUT_OFF or len(unquote_plus(value)) < 200, pair[:40]


def test_an_oversized_body_is_read_no_further_than_the_bound(recorder: Recorder) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    chunks = [b'{"path": "/', *[b"a" * 1024] * 1000, b'"}']  # 1 MB, no Content-Length
    asked: list[int] = []
    sent: list[Message] = []

    async def receive() -> Message:
        asked.append(1)
        chunk = chunks[len(asked) - 1]
        return {"type": "http.request", "body": chunk, "more_body": len(asked) < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(wrapped(_scope(), receive, send))
    assert sent[0]["status"] == 413
    assert len(asked) <= MAX_BODY // 1024 + 2
    assert spooled(recorder) == []


def test_a_body_sent_in_pieces_is_read_whole(recorder: Recorder) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    body = json.dumps({"path": "/in/pieces", "from": "/"}).encode()
    pieces = [body[i : i + 5] for i in range(0, len(body), 5)]
    replies = _drive(wrapped, pieces)
    assert replies[0]["status"] == 204
    assert [event["path"] for event in spooled(recorder)] == ["/in/pieces"]


def test_a_client_that_leaves_mid_body_gets_nothing_and_nothing_is_recorded(
    recorder: Recorder,
) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    replies = _drive(wrapped, [b'{"path": "/'], disconnect=True)
    assert replies == []
    assert spooled(recorder) == []


def _scope(**changes: Any) -> Scope:
    headers = [(b"host", b"example.com"), (b"user-agent", CHROME.encode()),
               (b"origin", ORIGIN.encode()), (b"content-type", b"text/plain")]  # fmt: skip
    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "POST", "scheme": "https", "path": BEACON,
                    "raw_path": BEACON.encode(), "query_string": b"", "root_path": "",
                    "headers": headers, "client": (ADDRESS, 50123),
                    "server": ("example.com", 443)}  # fmt: skip
    scope.update(changes)
    return scope


def _drive(app: Any, pieces: list[bytes], *, disconnect: bool = False) -> list[Message]:
    queue = [
        {"type": "http.request", "body": piece, "more_body": disconnect or i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]
    if disconnect:
        queue.append({"type": "http.disconnect"})
    sent: list[Message] = []

    async def receive() -> Message:
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(_scope(), receive, send))
    return sent


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": ORIGIN, "sec-fetch-site": "same-origin"}, id="fetch-metadata"),
        pytest.param({"origin": ORIGIN, "sec-fetch-site": ""}, id="origin-only"),
        pytest.param({"origin": "https://EXAMPLE.com:443", "sec-fetch-site": ""}, id="origin-case"),
        pytest.param(
            {"origin": "", "sec-fetch-site": "", "referer": f"{ORIGIN}/now"}, id="referer-only"
        ),
        # No Origin, Referer or Fetch Metadata: a client that is no browser, posting JSON
        # (text/plain is refused then: any page can post it, see test_navigation_beacon_csrf).
        pytest.param(
            {"origin": "", "sec-fetch-site": "", "content-type": "application/json"},
            id="no-browser-at-all",
        ),
        # Behind a proxy that rewrites Host: the browser's word that it is same-origin counts,
        # and the page's own origin is the referrer (internal), not the backend's name.
        pytest.param(
            {"origin": ORIGIN, "sec-fetch-site": "same-origin", "host": "backend:8000"},
            id="proxy-rewrote-host",
        ),
    ],
)
def test_same_origin_beacons_are_recorded_as_internal_navigations(
    recorder: Recorder, headers: dict[str, str]
) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    sent = {key: value for key, value in {**BROWSER, **TEXT, **headers}.items() if value}
    reply = _request(wrapped, "POST", BEACON, json={"path": "/b", "from": "/a"}, headers=sent)
    assert reply.status_code == 204
    (event,) = spooled(recorder)
    assert (event["path"], event["referrer_medium"]) == ("/b", "internal")


def test_a_page_left_past_the_referer_limit_is_linked_by_its_origin(recorder: Recorder) -> None:
    # Chromium and Firefox cut a Referer over 4096 bytes to the origin; the recorder reads a
    # longer one, which only a client that is no browser sends, as none at all (direct).
    origin = "https://example.com:8443"
    came_from = "/" + "p" * (MAX_REFERRER_LENGTH - len(origin))
    body = json.dumps({"path": "/n", "from": came_from}, separators=(",", ":")).encode()
    assert len(origin + came_from) > MAX_REFERRER_LENGTH
    assert len(body) <= MAX_BODY  # as the script writes it, it fits
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    assert _beacon(wrapped, body, origin=origin).status_code == 204
    (event,) = spooled(recorder)
    assert (event["referrer_host"], event["referrer_medium"]) == (SITE, "internal")


def test_the_body_query_address_and_user_agent_never_reach_the_spool(
    recorder: Recorder,
) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    secrets = ["query-secret-okapi", "from-secret-tapir", "NavProbe", ADDRESS, "jane.roe@x.org"]
    body = {
        "path": "/orders/jane.roe@x.org?utm_campaign=spring&session=query-secret-okapi",
        "from": "/basket/from-secret-tapir?k=query-secret-okapi",
    }
    assert _beacon(wrapped, body).status_code == 204
    assert len(spooled(recorder)) == 1
    written = b"".join(segment.path.read_bytes() for segment in list_segments(recorder.spool_dir))
    assert written
    for secret in secrets:
        assert secret.encode() not in written, secret


def test_a_navigation_to_an_excluded_path_is_not_recorded(recorder: Recorder) -> None:
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    for to in ("/admin/users", "/consent", "/.well-known/gpc.json", BEACON, f"{BEACON}.js"):
        assert _beacon(wrapped, {"path": to, "from": "/"}).status_code == 204
    assert spooled(recorder) == []


def test_with_record_all_the_beacon_is_not_itself_an_event(tmp_path: Path) -> None:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE, record="all")
    try:
        wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
        assert _beacon(wrapped, {"path": "/b", "from": "/a"}).status_code == 204
        assert _request(wrapped, "GET", f"{BEACON}.js").status_code == 200
        events = spooled(recorder)
    finally:
        recorder.close()
    assert [(e["path"], e["method"], e["status"]) for e in events] == [("/b", "GET", 200)]


def test_under_a_mount_the_beacon_is_the_apps_own_path(recorder: Recorder) -> None:
    app = App()
    wrapped = TrafficMiddleware(app, recorder=recorder, navigation_beacon=BEACON)
    body = json.dumps({"path": "/shop/cart", "from": "/shop/"}).encode()
    scope = _scope(path=f"/shop{BEACON}", raw_path=f"/shop{BEACON}".encode(), root_path="/shop")
    replies = _drive_scope(wrapped, scope, body)
    assert replies[0]["status"] == 204
    assert app.seen == []
    assert [event["path"] for event in spooled(recorder)] == ["/shop/cart"]


def _drive_scope(app: Any, scope: Scope, body: bytes) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_without_the_option_both_paths_are_the_apps(recorder: Recorder) -> None:
    app = App()
    wrapped = TrafficMiddleware(app, recorder=recorder)
    assert _beacon(wrapped, {"path": "/b", "from": "/a"}).status_code == 200
    assert _request(wrapped, "GET", f"{BEACON}.js").status_code == 200
    assert app.seen == [BEACON, f"{BEACON}.js"]
    assert [event["path"] for event in spooled(recorder)] == [BEACON, f"{BEACON}.js"]


def test_the_script_is_served_cacheable_with_the_integrity_it_is_given(
    recorder: Recorder,
) -> None:
    app = App()
    wrapped = TrafficMiddleware(app, recorder=recorder, navigation_beacon=BEACON)
    reply = _request(wrapped, "GET", f"{BEACON}.js")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"] == "public, max-age=86400, no-transform"
    assert reply.content == NAVIGATION_JS
    digest = base64.b64encode(hashlib.sha384(reply.content).digest()).decode()
    assert f"sha384-{digest}" == SCRIPT_INTEGRITY
    again = _request(wrapped, "GET", f"{BEACON}.js", headers={
        "if-none-match": f'W/{reply.headers["etag"]}'})  # fmt: skip
    assert (again.status_code, again.content) == (304, b"")
    head = _request(wrapped, "HEAD", f"{BEACON}.js")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(NAVIGATION_JS))
    refused = _request(wrapped, "POST", f"{BEACON}.js", content=b"x")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
    assert app.seen == []
    assert spooled(recorder) == []


def test_the_script_tag_names_a_versioned_url_cached_for_a_year(recorder: Recorder) -> None:
    tag = script_tag(BEACON)
    assert f'integrity="{SCRIPT_INTEGRITY}"' in tag
    assert " defer" in tag
    src = tag.split('src="', 1)[1].split('"', 1)[0]
    assert src.startswith(f"{BEACON}.js?v=")
    wrapped = TrafficMiddleware(App(), recorder=recorder, navigation_beacon=BEACON)
    reply = _request(wrapped, "GET", src)
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable, no-transform"
    assert reply.content == NAVIGATION_JS


BAD_BEACON_PATHS: list[object] = ["", "/", "_navigation", "/nav/", "/nav*", "/nav?x", "/nav[1]"]
BAD_BEACON_PATHS += ["/a b", "/nav.js", "//nav", "/navé", 7, b"/nav"]


@pytest.mark.parametrize(
    "value",
    BAD_BEACON_PATHS,
)
def test_a_bad_beacon_path_is_refused_at_construction(recorder: Recorder, value: Any) -> None:
    with pytest.raises(ValueError, match="navigation_beacon"):
        TrafficMiddleware(App(), recorder=recorder, navigation_beacon=value)


def _gate(recorder: Recorder, app: App) -> ConsentMiddleware:
    traffic = TrafficMiddleware(app, recorder=recorder, navigation_beacon=BEACON)
    return ConsentMiddleware(traffic, policy=POLICY, secret_key="nav-test-" + "k" * 32)


def test_the_consent_gate_lets_the_beacon_through_and_sets_no_cookie(recorder: Recorder) -> None:
    app = App()
    gated = _gate(recorder, app)
    reply = _beacon(gated, {"path": "/b", "from": "/a"})
    assert reply.status_code == 204
    assert "set-cookie" not in reply.headers
    script = _request(gated, "GET", f"{BEACON}.js")
    assert (script.status_code, script.content) == (200, NAVIGATION_JS)
    assert "set-cookie" not in script.headers
    refused = _beacon(gated, {"path": "/c", "from": "/b"}, **{"sec-fetch-site": "cross-site"})
    assert refused.status_code == 403
    assert app.seen == []
    assert [(e["path"], e["consent"]) for e in spooled(recorder)] == [("/b", "undecided")]


@pytest.mark.parametrize(
    ("action", "consent", "hashed"),
    [("reject_all", "none", False), ("accept_all", "all", True)],
)
def test_the_visitors_consent_applies_to_the_navigation(
    recorder: Recorder, action: str, consent: str, hashed: bool
) -> None:
    gated = _gate(recorder, App())

    async def go() -> httpx.Response:
        async with _client(gated) as client:
            decided = await client.post("/consent", json={"action": action}, headers=BROWSER)
            assert decided.status_code == 200
            body = json.dumps({"path": "/b", "from": "/a"}).encode()
            return await client.post(BEACON, content=body, headers={**BROWSER, **TEXT})

    reply = asyncio.run(go())
    assert reply.status_code == 204
    assert "set-cookie" not in reply.headers
    (event,) = spooled(recorder)
    assert (event["consent"], event["visitor_id"] is not None) == (consent, hashed)
