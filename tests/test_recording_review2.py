"""Recording bugs found in the second review, each pinned by the test that first failed.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
"""

from __future__ import annotations

import asyncio
import copy
import io
import logging
import logging.config
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.accesslog import LOG_CONFIG, PrivateAccessLog
from analytics.middleware import Message, Receive, Scope, Send
from analytics.recorder import Capture
from analytics.referrers import SPAM_HOSTS, parse_referrer, referrer_parser
from tests.test_recording_review import spooled

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SITE = "example.com"


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


def capture(path: str = "/", **changes: Any) -> Capture:
    return Capture(
        time.time(), path, "GET", 200, b"", None, FIREFOX, "203.0.113.7", None, "undecided", True
    )._replace(**changes)


# --- the spam list holds IDN hosts in Punycode; referrer hosts are compared in Unicode -------


def _unicode(host: str) -> str:
    return ".".join(
        label.encode().decode("idna") if label.startswith("xn--") else label
        for label in host.split(".")
    )


IDN_SPAM = sorted(host for host in SPAM_HOSTS if host.startswith("xn--"))[:3]


@pytest.mark.parametrize("host", IDN_SPAM)
@pytest.mark.parametrize("prefix", ["", "www.", "promo."])
@pytest.mark.parametrize("spelling", ["punycode", "unicode", "upper-punycode"])
def test_an_idn_spam_host_is_spam_in_either_spelling(host: str, prefix: str, spelling: str) -> None:
    written = {
        "punycode": host,
        "unicode": _unicode(host),
        "upper-punycode": host.upper(),
    }[spelling]
    # A spam bot writes the header itself: nothing makes it send the Punycode form.
    assert parse_referrer(f"https://{prefix}{written}/".encode(), SITE).spam


def test_idn_spam_hosts_are_on_the_shipped_list() -> None:
    assert len(IDN_SPAM) == 3  # the parametrisation above is not empty


def test_an_idn_spam_referrer_in_unicode_is_counted_not_recorded(recorder: Recorder) -> None:
    spam = f"https://{_unicode(IDN_SPAM[0])}/offer".encode()
    recorder.add(capture("/spammed", referer=spam))
    recorder.add(capture("/fine", referer=b"https://news.ycombinator.com/"))
    assert [row["path"] for row in spooled(recorder)] == ["/fine"]
    assert recorder.stats.spam == 1
    assert referrer_parser(SITE)(spam).spam


# --- a string Arrow cannot store (a lone surrogate) must drop alone, not the batch -----------


@pytest.mark.parametrize(
    ("odd", "kept"),
    [
        # scope["path"] as a decoder with errors="surrogateescape" leaves it (\xff in raw_path)
        ({"path": "/caf\udce9"}, "/caf\ufffd"),
        ({"path": "/u/\udcff" + "a" * 30}, "/u/:redacted"),
        ({"method": "G\udcffT"}, None),
    ],
)
def test_a_surrogate_in_a_capture_drops_alone(
    recorder: Recorder, odd: dict[str, str], kept: str | None
) -> None:
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/before"))
    recorder.add(capture(**{"path": "/odd", **odd}))
    recorder.add(capture("/after"))
    recorder.flush()  # raised UnicodeEncodeError: the batch and earlier events were lost
    paths = [row["path"] for row in spooled(recorder)]
    expected = ["/converted-earlier", "/before", "/after"]
    if kept is not None:
        expected.insert(2, kept)
    assert paths == expected
    assert recorder.stats.errors == (0 if kept is not None else 1)
    assert recorder.stats.buffered == 0


def test_redacted_paths_are_always_storable_text() -> None:
    from analytics.paths import redact_path

    for path in ("/caf\udce9", "/\ud83d\ude00", "/ok/\u00e9t\u00e9"):
        redact_path(path).encode("utf-8")  # what Arrow and the access log need
    assert redact_path("/ok/\u00e9t\u00e9") == "/ok/\u00e9t\u00e9"


# --- no client address (a Unix socket: ASGI `client` is None or missing) ---------------------


async def html_app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


def _scope(path: str, client: Any, forwarded: bytes | None = None) -> Scope:
    headers = [(b"user-agent", FIREFOX)]
    if forwarded is not None:
        headers.append((b"x-forwarded-for", forwarded))
    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                    "query_string": b"", "root_path": "", "headers": headers,
                    "server": None}  # fmt: skip
    if client != "missing":
        scope["client"] = client
    return scope


async def _request(app: Any, scope: Scope) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)


@pytest.mark.parametrize("client", [None, "missing"])
@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)])
def test_requests_without_a_client_address_get_no_visitor_id(
    tmp_path: Path, client: Any, trusted: tuple[str, ...]
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, trusted_proxies=trusted)
    app = TrafficMiddleware(html_app, recorder=recorder)

    async def go() -> None:
        # uvicorn --uds: no peer address; without proxy headers every visitor looks alike
        await _request(app, _scope("/a", client, b"203.0.113.7"))
        await _request(app, _scope("/b", client, b"198.51.100.9"))
        await _request(app, _scope("/c", ("203.0.113.7", 5000)))

    try:
        asyncio.run(go())
        rows = spooled(recorder)
    finally:
        recorder.close()
    # Hashing "" + user agent made every visitor with the same browser one visitor.
    assert [(row["path"], row["visitor_id"] is None) for row in rows] == [
        ("/a", True),
        ("/b", True),
        ("/c", False),
    ]


# --- the private log config: uvicorn's WebSocket lines carry the address and the query too ---

# uvicorn's three WebSocket handshake lines (websockets, websockets-sansio and wsproto
# implementations alike), logged on `uvicorn.error` through the `default` handler.
WEBSOCKET_LINES = [
    ('%s - "WebSocket %s" [accepted]', ()),
    ('%s - "WebSocket %s" 403', ()),
    ('%s - "WebSocket %s" %d', (401,)),
]
WS_PATH = "/live/jane.doe@example.com?token=s3cret&utm_source=x"


@pytest.mark.parametrize(("msg", "rest"), WEBSOCKET_LINES)
def test_a_websocket_line_loses_the_address_and_the_query(msg: str, rest: tuple[int, ...]) -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, msg, ("203.0.113.7:51234", WS_PATH, *rest), None
    )
    assert PrivateAccessLog().filter(record) is True
    line = record.getMessage()
    assert line.startswith('- - "WebSocket /live/:redacted"')
    for secret in ("203.0.113.7", "51234", "jane", "token", "s3cret", "utm_source", "?"):
        assert secret not in line


def test_a_five_argument_line_of_another_logger_is_left_alone() -> None:
    # The filter now sits on the default handler too: only uvicorn's own lines change.
    record = logging.LogRecord(
        "app", logging.INFO, __file__, 1, "%s %s %s %s %s", ("a", "b", "c", "d", "e"), None
    )
    assert PrivateAccessLog().filter(record) is True
    assert record.getMessage() == "a b c d e"


@pytest.fixture
def uvicorn_loggers() -> Iterator[None]:
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [(logging.getLogger(n), logging.getLogger(n).__dict__.copy()) for n in names]
    try:
        yield
    finally:
        for logger, state in saved:
            for handler in logger.handlers:
                if handler not in state["handlers"]:
                    handler.close()
            logger.__dict__.clear()
            logger.__dict__.update(state)


@pytest.mark.parametrize(("msg", "rest"), WEBSOCKET_LINES)
def test_the_private_log_config_keeps_websocket_lines_private(
    uvicorn_loggers: None, msg: str, rest: tuple[int, ...]
) -> None:
    config = copy.deepcopy(LOG_CONFIG)
    stream = io.StringIO()
    for handler in config["handlers"].values():
        handler["stream"] = stream
    logging.config.dictConfig(config)
    logging.getLogger("uvicorn.error").info(msg, "203.0.113.7:51234", WS_PATH, *rest)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.7:51234", "GET", WS_PATH, "1.1", 200
    )
    written = stream.getvalue()
    assert '"WebSocket /live/:redacted"' in written
    assert '"GET /live/:redacted HTTP/1.1" 200' in written
    for secret in ("203.0.113.7", "jane", "s3cret", "utm_source"):
        assert secret not in written


# --- IDNA mapping of a Unicode host: the other full stops, full-width forms ------------------


@pytest.mark.parametrize(
    ("raw", "host", "medium"),
    [
        # U+3002, U+FF0E, U+FF61 separate labels like "." (IDNA, UTS #46): was `direct`
        ("https://www.google\u3002com/", "google.com", "search"),
        ("https://b\u00fccher\uff0ede/", "b\u00fccher.de", "referral"),
        ("https://B\u00dcCHER\uff61DE\u3002/", "b\u00fccher.de", "referral"),
        ("https://blog\u3002example\u3002com/", "blog.example.com", "internal"),
        # full-width letters map to ASCII: a browser sends the same host as "google.com"
        ("https://\uff47\uff4f\uff4f\uff47\uff4c\uff45.com/", "google.com", "search"),
        ("https://news.\uff59combinator.com/", "news.ycombinator.com", "social"),
        # unchanged: IDNA 2008 keeps sharp s (no case folding to "ss"), ASCII is left alone
        ("https://fa\u00df.de/", "fa\u00df.de", "referral"),
        ("https://b\u00fccher.de/", "b\u00fccher.de", "referral"),
        ("https://xn--bcher-kva.de/", "b\u00fccher.de", "referral"),
    ],
)
def test_a_unicode_host_is_mapped_as_idna_does(raw: str, host: str, medium: str) -> None:
    referrer = parse_referrer(raw.encode(), SITE)
    assert (referrer.host, referrer.medium) == (host, medium)
    assert referrer_parser(SITE)(raw.encode()).host == host


# --- record="pages": a page revalidated with 304 Not Modified is still a page view -----------

BROWSER_NAVIGATION = {
    "user-agent": FIREFOX.decode(),
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "sec-fetch-dest": "document",
    "sec-fetch-mode": "navigate",
}
OLD_BROWSER_NAVIGATION = {"user-agent": FIREFOX.decode(), "accept": "text/html,*/*;q=0.8"}
STYLESHEET = {"user-agent": FIREFOX.decode(), "accept": "text/css,*/*;q=0.1",
              "sec-fetch-dest": "style"}  # fmt: skip
SCRIPT_FETCH = {"user-agent": FIREFOX.decode(), "accept": "*/*", "sec-fetch-dest": "empty"}


def _static_site(root: Path) -> Path:
    site = root / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Home</title><p>home")
    (site / "post.html").write_text("<!doctype html><title>Post</title><p>post")
    (site / "style.css").write_text("p { color: teal }")
    (site / "report.pdf").write_bytes(b"%PDF-1.4 a report")
    (site / "Photo.JPG").write_bytes(b"\xff\xd8\xff a photo")
    return site


@pytest.mark.parametrize(
    ("url", "headers", "pages"),
    [
        ("/post.html", BROWSER_NAVIGATION, ["/post.html", "/post.html"]),
        ("/", BROWSER_NAVIGATION, ["/", "/"]),
        ("/post.html", OLD_BROWSER_NAVIGATION, ["/post.html", "/post.html"]),
        # not page views, revalidated or not: only the HTML 200 of the same URL counts
        ("/style.css", STYLESHEET, []),
        ("/post.html", SCRIPT_FETCH, ["/post.html"]),
        # a browser navigating to a PDF or an image sends the same headers as for a page
        ("/report.pdf", BROWSER_NAVIGATION, []),
        ("/Photo.JPG", BROWSER_NAVIGATION, []),
    ],
)
def test_a_page_revalidated_with_304_is_recorded(
    tmp_path: Path, url: str, headers: dict[str, str], pages: list[str]
) -> None:
    from starlette.staticfiles import StaticFiles

    recorder = Recorder(tmp_path / "spool", SITE)
    app = TrafficMiddleware(StaticFiles(directory=_static_site(tmp_path), html=True),
                            recorder=recorder)  # fmt: skip

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51234))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            first = await c.get(url, headers=headers)
            etag = first.headers["etag"]
            again = await c.get(url, headers={**headers, "if-none-match": etag})
            return [first.status_code, again.status_code]

    try:
        assert asyncio.run(go()) == [200, 304]
        rows = spooled(recorder)
    finally:
        recorder.close()
    # A browser revalidates a page it has cached (reload, Cache-Control: no-cache): the 304
    # carries no Content-Type, and every repeat view of a static page was lost.
    assert [row["path"] for row in rows] == pages
    assert [row["status"] for row in rows] == [200, 304][: len(pages)]
    if len(rows) == 2:
        assert rows[0]["visitor_id"] == rows[1]["visitor_id"] is not None


# --- a long same-site referrer: browsers send full URLs up to 4 096 bytes -------------------


@pytest.mark.parametrize(
    ("raw", "medium"),
    [
        # same origin: the full URL, query included (strict-origin-when-cross-origin)
        (b"https://example.com/search?" + b"facet=colour%3Ablue&" * 150, "internal"),
        (b"https://www.example.com/landing?utm_source=x&gclid=" + b"A1b2" * 700, "internal"),
        # a site with Referrer-Policy: unsafe-url
        (b"https://www.google.com/url?q=" + b"x" * 3500, "search"),
        # over the browsers' cap they send only the origin: a longer header is crafted
        (b"https://example.com/?" + b"x" * 4100, "direct"),
    ],
)
def test_a_referrer_up_to_the_browser_cap_is_classified(
    recorder: Recorder, raw: bytes, medium: str
) -> None:
    # Chrome and Firefox cut a Referer over 4 096 bytes down to the origin; up to that it is
    # a real navigation, and one from a long URL of the site itself was counted as `direct`.
    assert 2048 < len(raw) <= 4096 or medium == "direct"
    assert parse_referrer(raw, SITE).medium == medium
    assert referrer_parser(SITE)(raw).medium == medium
    recorder.add(capture("/next", referer=raw))
    assert [row["referrer_medium"] for row in spooled(recorder)] == [medium]


# --- a phone whose model name holds a bot token is a phone ----------------------------------

ANDROID = "Mozilla/5.0 (Linux; Android {v}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "
CHROME = "Chrome/131.0.0.0 {mobile}Safari/537.36"


def _android(model: str, version: str = "13", mobile: bool = True) -> bytes:
    tail = CHROME.format(mobile="Mobile " if mobile else "")
    return (ANDROID.format(v=version, model=model) + tail).encode()


@pytest.mark.parametrize(
    ("ua", "device", "is_bot"),
    [
        # Cubot sells millions of Android phones; "bot" in the brand made every one a bot
        (_android("CUBOT NOTE 20 PRO", "11"), "mobile", False),
        (_android("CUBOT_X30", "10"), "mobile", False),
        (_android("CUBOT KINGKONG 9"), "mobile", False),
        (_android("Monitor Pro", "10", mobile=False), "tablet", False),
        # still bots: the token is in the product or the comment, not the device model
        (b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
        (
            _android("Nexus 5X Build/MMB29P", "6.0.1")
            + b" (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "bot",
            True,
        ),
        (b"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "bot", True),
        (b"Mozilla/5.0 (compatible; MyCustomBot/1.0)", "bot", True),
        (_android("K", "10") + b" ExampleScraperBot/1.0", "bot", True),
        (b"UptimeRobot/2.0 (+http://www.uptimerobot.com/)", "bot", True),
        (b"curl/8.5.0", "bot", True),
    ],
)
def test_a_bot_token_in_the_device_model_is_not_a_bot(ua: bytes, device: str, is_bot: bool) -> None:
    from analytics.useragents import classify_user_agent

    assert tuple(classify_user_agent(ua)) == (device, is_bot)


# --- exclude_paths: a pattern that cannot work is a ValueError, never a failed request ------


@pytest.mark.parametrize(
    "patterns",
    [
        [b"/admin/*"],  # bytes: fnmatch raised TypeError inside every request (a 500)
        ["/ok", 42],
        ["admin/*"],  # paths start with "/": this never matched anything
        [""],
    ],
)
def test_an_unusable_exclude_pattern_is_a_value_error(tmp_path: Path, patterns: list[Any]) -> None:
    with pytest.raises(ValueError, match="exclude_paths"):
        Recorder(tmp_path / "spool", SITE, exclude_paths=patterns)


@pytest.mark.parametrize("patterns", [["/admin/*"], ["*.css", "/healthz"], ["?ealthz"], ()])
def test_usable_exclude_patterns_are_taken(tmp_path: Path, patterns: list[str]) -> None:
    from analytics.recorder import ALWAYS_EXCLUDED

    recorder = Recorder(tmp_path / "spool", SITE, exclude_paths=patterns)
    recorder.close()
    assert recorder.exclude_paths == ALWAYS_EXCLUDED + tuple(patterns)


# --- a path cut at 512 characters keeps one leading slash -----------------------------------


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/" + "word-" * 120, "/…"),  # one long segment: was "//…", a path with an empty segment
        ("/" + "word-" * 120 + "/tail", "/…"),
        ("/a/" + "word-" * 120, "/a/…"),
        ("/a/b/" + "word-" * 120 + "/c", "/a/b/…"),
    ],
)
def test_a_long_path_is_cut_on_a_segment_boundary(path: str, stored: str) -> None:
    from analytics.paths import redact_path

    assert redact_path(path) == stored


# --- record="all": an app that crashes before answering still gets its 500 recorded ---------


async def crashing_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/late":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("crashed mid-body")
    raise RuntimeError("crashed before answering")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("all", [("/early", 500), ("/late", 200)]),  # the server answers 500 for /early
        ("pages", []),  # a 500 the server writes is no page
    ],
)
def test_an_app_that_raises_before_answering_is_recorded_as_500(
    tmp_path: Path, record: str, expected: list[tuple[str, int]]
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, record=record)
    app = TrafficMiddleware(crashing_app, recorder=recorder)

    async def go() -> list[int]:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("203.0.113.7", 1)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            return [(await c.get(path)).status_code for path in ("/early", "/late")]

    async def raises() -> None:
        with pytest.raises(RuntimeError, match="before answering"):  # still the server's to see
            await _request(app, _scope("/early", ("203.0.113.7", 1)))

    try:
        assert asyncio.run(go()) == [500, 200]
        asyncio.run(raises())
        rows = spooled(recorder)
    finally:
        recorder.close()
    got = [(row["path"], row["status"]) for row in rows]
    assert got == ([*expected, ("/early", 500)] if expected else [])


# --- parser caches never pin long request values in memory -----------------------------------


def test_long_paths_and_user_agents_are_not_pinned_in_the_caches(tmp_path: Path) -> None:
    import gc
    import tracemalloc

    recorder = Recorder(tmp_path / "spool", SITE, max_buffer=10_000)
    app = TrafficMiddleware(html_app, recorder=recorder)
    # uvicorn takes request heads up to 16 kB (h11); a client can send a new path and a new
    # user agent of about 7 kB each on every request. The caches hold 8 192 paths (redaction),
    # 4 096 paths (exclusion) and 4 096 user agents: 100+ MB per worker, kept for good.
    requests = 400
    filler = "word-" * 1400

    async def go() -> None:
        for i in range(requests):
            scope = _scope(f"/p/{i}-{filler}", ("203.0.113.7", 1))
            scope["headers"] = [(b"user-agent", f"Mozilla/5.0 ({i}) {filler}".encode())]
            await _request(app, scope)

    asyncio.run(_request(app, _scope("/warm-up", ("203.0.113.7", 1))))
    recorder.flush()  # the parsers' one-time set-up is not what is measured
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(go())
        assert recorder.flush() == requests
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        recorder.close()
    # 400 requests x (7 kB path x 2 caches + 7 kB user agent) was about 8.4 MB
    assert retained < 2_000_000, f"{retained / 1e6:.1f} MB retained"


def test_a_long_user_agent_costs_about_what_a_real_one_does() -> None:
    from analytics.useragents import classify_user_agent

    # The flusher holds the GIL while it classifies: every request of the worker waits. A
    # crafted 1 kB user agent cost crawlerdetect about 60 ms (quadratic): about 100x a real one.
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    rounds = iter(range(1000))

    def real() -> list[bytes]:
        n = next(rounds)  # new strings each round: no parser cache has seen them
        return [f"{chrome}Chrome/131.{n}.{i}.0 Safari/537.36".encode() for i in range(20)]

    def crafted() -> list[bytes]:
        n = next(rounds)
        return [(f"{n}{letter}" + letter * 16_000).encode() for letter in "abcdefghijklmnopqrst"]

    def cost(agents: list[bytes]) -> float:
        started = time.perf_counter()
        for agent in agents:
            classify_user_agent(agent)
        return time.perf_counter() - started

    cost(real()[:2])  # one-time set-up of the parsers
    ratio = min(cost(crafted()) for _ in range(2)) / min(cost(real()) for _ in range(2))
    assert ratio < 30, f"a crafted user agent costs {ratio:.0f}x a real one"
