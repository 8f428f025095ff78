from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from analytics import Recorder, TrafficMiddleware
from analytics.event import Event
from analytics.middleware import Message, Receive, Scope, Send
from analytics.spool import list_segments, read_segment

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass
class FakeConsent:
    """Duck-typed like cookiewall's Consent: analytics must not import cookiewall."""

    decided: bool
    granted: frozenset[str] = frozenset({"necessary"})
    gpc: bool = False
    categories: tuple[str, ...] = ("necessary", "preferences", "analytics")
    summary: str = "undecided"
    calls: list[str] = field(default_factory=list)

    def allows(self, name: str) -> bool:
        return name in self.granted


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse("<h1>hi</h1>", status_code=int(request.query_params.get("status", 200)))


async def data(request: Any) -> JSONResponse:
    return JSONResponse({"ok": True})


async def text(request: Any) -> PlainTextResponse:
    return PlainTextResponse("plain")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def starlette_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/data", data),
            Route("/robots.txt", text),
            WebSocketRoute("/ws", ws),
            Route("/{path:path}", page, methods=["GET", "POST", "HEAD"]),
        ]
    )


def with_consent(app: Any, consent: FakeConsent | None) -> Any:
    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        if consent is not None and scope["type"] == "http":
            scope.setdefault("state", {})["consent"] = consent
        await app(scope, receive, send)

    return outer


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path / "spool", "example.com", clock=lambda: NOON, flush_interval=3600)


def events(recorder: Recorder) -> list[Event]:
    recorder.flush()
    rows: list[Event] = []
    for segment in list_segments(recorder.spool_dir):
        rows.extend(Event(**row) for row in read_segment(segment.path).to_pylist())
    return rows


@contextlib.asynccontextmanager
async def client(app: Any, ip: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(ip, 51234))
    async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
        yield c


def get(
    app: Any, url: str, headers: dict[str, str] | None = None, ip: str = "203.0.113.7"
) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client(app, ip) as c:
            return await c.get(url, headers={"user-agent": FIREFOX, **(headers or {})})

    return asyncio.run(go())


def test_a_page_view_becomes_one_event_with_every_field(recorder: Recorder) -> None:
    app = TrafficMiddleware(starlette_app(), recorder=recorder)
    response = get(
        app,
        "/blog/post-title/0123456789abcdef01234567?utm_source=nl&utm_medium=email&x=secret",
        {"referer": "https://user:pw@WWW.Google.co.uk:443/search?q=private"},
    )
    assert response.status_code == 200
    (event,) = events(recorder)
    assert event._replace(visitor_id=0) == Event(
        ts=NOON,
        site="example.com",
        path="/blog/post-title/:redacted",
        method="GET",
        status=200,
        referrer_host="google.co.uk",
        referrer_domain="google.co.uk",
        referrer_medium="search",
        referrer_source="Google",
        utm_source="nl",
        utm_medium="email",
        utm_campaign=None,
        visitor_id=0,
        device="desktop",
        is_bot=False,
        consent="undecided",
    )
    assert isinstance(event.visitor_id, int)  # undecided visitors are counted cookielessly


@pytest.mark.parametrize(
    ("url", "record", "recorded"),
    [
        ("/", "pages", True),
        ("/api/data", "pages", False),  # JSON is not a page
        ("/robots.txt", "pages", False),
        ("/api/data", "all", True),
        ("/robots.txt", "all", True),
        ("/missing?status=404", "pages", True),  # an HTML error page is still a view
        ("/consent", "all", False),
        ("/consent/banner", "all", False),
        ("/consent/cookies", "pages", False),
        ("/.well-known/gpc.json", "all", False),
        ("/consentful", "pages", True),  # a whole segment, not a prefix
        ("/admin/users", "pages", False),  # exclude_paths
        ("/healthz", "all", False),
        ("/administrator", "pages", True),
    ],
)
def test_what_is_recorded(tmp_path: Path, url: str, record: str, recorded: bool) -> None:
    recorder = Recorder(
        tmp_path, "example.com", record=record, exclude_paths=["/admin/*", "/healthz"]
    )
    get(TrafficMiddleware(starlette_app(), recorder=recorder), url)
    assert len(events(recorder)) == (1 if recorded else 0)


@pytest.mark.parametrize(("record", "recorded"), [("pages", False), ("all", True)])
def test_a_head_request_is_not_a_page_view(tmp_path: Path, record: str, recorded: bool) -> None:
    # Uptime monitors and link checkers HEAD pages with browser-like user agents: nobody saw
    # a page. "all" records every response, HEAD included.
    recorder = Recorder(tmp_path, "example.com", record=record)
    app = TrafficMiddleware(starlette_app(), recorder=recorder)

    async def head() -> httpx.Response:
        async with client(app) as c:
            return await c.head("/", headers={"user-agent": FIREFOX, "accept": "text/html"})

    response = asyncio.run(head())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert [e.method for e in events(recorder)] == (["HEAD"] if recorded else [])


@pytest.mark.parametrize(
    ("consent", "headers", "state", "hashed"),
    [
        (None, {}, "undecided", True),
        (FakeConsent(decided=False), {}, "undecided", True),
        (
            FakeConsent(True, frozenset({"necessary", "preferences", "analytics"}), summary="all"),
            {},
            "all",
            True,
        ),
        (FakeConsent(True, summary="none"), {}, "none", False),  # declined analytics
        (
            FakeConsent(True, frozenset({"necessary", "preferences"}), summary="custom"),
            {},
            "custom",
            False,
        ),
        (
            FakeConsent(True, frozenset({"necessary", "analytics"}), summary="custom"),
            {},
            "custom",
            True,
        ),
        # a policy without an analytics category: declining the others keeps the hash
        (
            FakeConsent(True, summary="none", categories=("necessary", "marketing")),
            {},
            "none",
            True,
        ),
        (FakeConsent(False, gpc=True), {}, "undecided", False),
        # GPC in the consent object itself, on the "all" shortcut too
        (
            FakeConsent(True, frozenset({"necessary", "analytics"}), summary="all", gpc=True),
            {},
            "all",
            False,
        ),
        (None, {"sec-gpc": "1"}, "undecided", False),
        (None, {"dnt": "1"}, "undecided", False),
        (None, {"sec-gpc": "0"}, "undecided", True),  # only the exact value 1 counts
        (None, {"dnt": "yes"}, "undecided", True),
        (
            FakeConsent(True, frozenset({"necessary", "analytics"}), summary="all"),
            {"sec-gpc": "1"},
            "all",
            False,
        ),
    ],
)
def test_consent_and_opt_out_signals(
    recorder: Recorder,
    consent: FakeConsent | None,
    headers: dict[str, str],
    state: str,
    hashed: bool,
) -> None:
    app = with_consent(TrafficMiddleware(starlette_app(), recorder=recorder), consent)
    get(app, "/", headers)
    (event,) = events(recorder)
    assert event.consent == state
    assert (event.visitor_id is not None) == hashed


def test_a_foreign_consent_object_counts_the_view_but_links_nothing(recorder: Recorder) -> None:
    app = with_consent(TrafficMiddleware(starlette_app(), recorder=recorder), object())  # type: ignore[arg-type]
    assert get(app, "/").status_code == 200
    (event,) = events(recorder)
    assert (event.consent, event.visitor_id) == ("undecided", None)


def test_visitor_ids_follow_address_agent_and_day(tmp_path: Path) -> None:
    now = [NOON]
    recorder = Recorder(tmp_path, "example.com", clock=lambda: now[0])
    app = TrafficMiddleware(starlette_app(), recorder=recorder)
    get(app, "/", ip="203.0.113.7")
    get(app, "/", ip="203.0.113.7")
    get(app, "/", ip="2001:db8::7")
    get(app, "/", {"user-agent": FIREFOX + " other"}, ip="203.0.113.7")
    now[0] = NOON + timedelta(days=1)
    get(app, "/", ip="203.0.113.7")
    ids = [e.visitor_id for e in sorted(events(recorder), key=lambda e: e.ts)]
    assert ids[0] == ids[1]
    assert len(set(ids)) == 4


def test_x_forwarded_for_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", trusted_proxies=["10.0.0.0/8"])
    app = TrafficMiddleware(starlette_app(), recorder=recorder)
    get(app, "/", {"x-forwarded-for": "198.51.100.1"}, ip="10.0.0.2")
    get(app, "/", {"x-forwarded-for": "198.51.100.1"}, ip="10.0.0.3")  # another proxy
    get(app, "/", ip="198.51.100.1")  # direct: same visitor
    get(app, "/", {"x-forwarded-for": "198.51.100.1"}, ip="203.0.113.9")  # spoofed
    ids = [e.visitor_id for e in events(recorder)]
    assert len(set(ids)) == 2


def test_referrer_spam_is_counted_not_recorded(recorder: Recorder) -> None:
    app = TrafficMiddleware(starlette_app(), recorder=recorder)
    assert get(app, "/", {"referer": "http://www.0-0.fr/"}).status_code == 200
    assert events(recorder) == []
    assert recorder.stats.spam == 1


@pytest.mark.parametrize(
    ("referer", "medium", "host"),
    [
        ("https://example.com/other", "internal", "example.com"),
        ("https://news.ycombinator.com/item?id=1", "social", "news.ycombinator.com"),
        ("android-app://com.google.android.gm/", "email", "com.google.android.gm"),
        ("javascript:alert(1)", "direct", None),
        ("", "direct", None),
    ],
)
def test_referrers_through_the_middleware(
    recorder: Recorder, referer: str, medium: str, host: str | None
) -> None:
    get(TrafficMiddleware(starlette_app(), recorder=recorder), "/", {"referer": referer})
    (event,) = events(recorder)
    assert (event.referrer_medium, event.referrer_host) == (medium, host)


def test_bots_are_recorded_and_flagged(recorder: Recorder) -> None:
    get(TrafficMiddleware(starlette_app(), recorder=recorder), "/", {"user-agent": "curl/8.4"})
    (event,) = events(recorder)
    assert (event.device, event.is_bot) == ("bot", True)


def test_a_broken_clock_never_breaks_the_response(tmp_path: Path) -> None:
    def clock() -> datetime:
        raise RuntimeError("clock broke")

    recorder = Recorder(tmp_path, "example.com", clock=clock)
    response = get(TrafficMiddleware(starlette_app(), recorder=recorder), "/")
    assert response.status_code == 200
    assert response.text == "<h1>hi</h1>"


def test_websocket_passes_through(recorder: Recorder) -> None:
    sent: list[Message] = []
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1000},
    ]

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "query_string": b"",
             "headers": [], "scheme": "wss", "server": ("example.com", 443),
             "client": ("203.0.113.7", 1), "root_path": "", "subprotocols": []}  # fmt: skip
    app = TrafficMiddleware(starlette_app(), recorder=recorder)
    asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert recorder.stats.recorded == 0


async def run_lifespan(app: Any) -> list[str]:
    queue: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[str] = []

    async def send(message: Message) -> None:
        sent.append(message["type"])

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, queue.get, send)
    )
    await queue.put({"type": "lifespan.startup"})
    await queue.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(task, 10)
    return sent


async def no_lifespan_raises(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"  # the common hand-written app: lifespan unsupported


async def no_lifespan_returns(scope: Scope, receive: Receive, send: Send) -> None:
    return


async def no_lifespan_reads_then_raises(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    raise RuntimeError("lifespan not supported")


@pytest.mark.parametrize(
    "inner",
    [starlette_app(), no_lifespan_raises, no_lifespan_returns, no_lifespan_reads_then_raises],
    ids=["starlette", "raises", "returns", "reads-then-raises"],
)
def test_lifespan_shutdown_flushes(tmp_path: Path, inner: Any) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    recorder.add(events_fixture())
    sent = asyncio.run(run_lifespan(TrafficMiddleware(inner, recorder=recorder)))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert recorder.stats.flushed == 1
    assert len(list_segments(tmp_path)) == 1


def test_a_failing_app_startup_is_reported_not_hidden(tmp_path: Path) -> None:
    @contextlib.asynccontextmanager
    async def broken(app: Any) -> AsyncIterator[None]:
        raise RuntimeError("database down")
        yield

    recorder = Recorder(tmp_path, "example.com")
    app = TrafficMiddleware(Starlette(lifespan=broken), recorder=recorder)
    with pytest.raises(RuntimeError, match="database down"):
        asyncio.run(run_lifespan(app))


def test_the_middleware_needs_a_recorder() -> None:
    with pytest.raises(ValueError, match="recorder"):
        TrafficMiddleware(starlette_app(), recorder="var/spool")  # type: ignore[arg-type]


def events_fixture() -> Event:
    return Event(NOON, "example.com", "/", "GET", 200, None, None, "direct", None, None, None,
                 None, None, "desktop", False, "undecided")  # fmt: skip


@pytest.mark.parametrize(
    ("url", "recorded_path"),
    [
        ("/shop/", "/shop/"),
        ("/shop/blog/post", "/shop/blog/post"),
        ("/shop/consent", None),  # the consent endpoints below the mount are machinery
        ("/shop/consent/banner", None),
        ("/shop/.well-known/gpc.json", None),
        ("/shop/admin/users", None),  # exclude_paths, written as the app sees its paths
        ("/shop/consentful", "/shop/consentful"),
    ],
)
def test_under_a_mount_exclusions_match_below_it_and_events_keep_the_full_path(
    tmp_path: Path, url: str, recorded_path: str | None
) -> None:
    from starlette.routing import Mount

    recorder = Recorder(tmp_path, "example.com", exclude_paths=["/admin/*"])
    inner = TrafficMiddleware(starlette_app(), recorder=recorder)
    get(Starlette(routes=[Mount("/shop", app=inner)]), url)
    assert [event.path for event in events(recorder)] == ([recorded_path] if recorded_path else [])


@pytest.mark.parametrize(
    ("path", "root_path", "recorded_path"),
    [
        ("/shop/page", "/shop", "/shop/page"),  # the root kept in path (ASGI spec, uvicorn)
        ("/page", "/shop", "/shop/page"),  # an older server that stripped it
        ("/consent", "/shop", None),
        ("/shop/consent", "/shop", None),
        ("/shopping/consent", "/shop", "/shop/shopping/consent"),  # not under /shop: stripped
        ("/page", "/", "/page"),
    ],
)
def test_both_root_path_styles(
    tmp_path: Path, path: str, root_path: str, recorded_path: str | None
) -> None:
    recorder = Recorder(tmp_path, "example.com")
    app = TrafficMiddleware(starlette_app(), recorder=recorder)

    async def call() -> None:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": root_path,
                 "query_string": b"", "headers": [(b"user-agent", FIREFOX.encode())],
                 "client": ("203.0.113.7", 1234), "scheme": "https", "http_version": "1.1",
                 "server": ("example.com", 443), "asgi": {"version": "3.0"}}  # fmt: skip

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            pass

        await app(scope, receive, send)

    asyncio.run(call())
    assert [event.path for event in events(recorder)] == ([recorded_path] if recorded_path else [])
