"""The gate runs analytics' TrafficMiddleware inside its own `send` wrapper (one layer fewer).

ConsentMiddleware directly outside a middleware that offers `observed_path(scope)` and
`observe_response(scope, path, message)` calls those and then the middleware's own `app`,
on its common path only. The outcome must be the same as calling the middleware: the same
events, the same responses, recording failures still contained, and every request the
middleware treats specially (excluded paths, mounts, record="all", lifespan, websockets, the
gate's own cookies and injected banner) still goes through it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Receive, Scope, Send
from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, consent_cookie, make_policy
from tests.test_traffic_middleware import events

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def page(request: Request) -> Response:
    response = HTMLResponse("<html><head></head><body><p>hi</p></body></html>")
    response.set_cookie("theme", "dark")
    response.set_cookie("_ga_1", "x")
    return response


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


class CountingTraffic(TrafficMiddleware):
    """TrafficMiddleware that counts the requests it is called for itself."""

    calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            type(self).calls += 1
        await super().__call__(scope, receive, send)


def recorder_at(tmp_path: Path, name: str, **options: Any) -> Recorder:
    return Recorder(
        tmp_path / name, "example.com", clock=lambda: NOON, flush_interval=3600, **options
    )


def stack(recorder: Recorder, *, fused: bool = True, **gate_options: Any) -> ConsentMiddleware:
    inner = Starlette(
        routes=[
            Route("/", page),
            Route("/broken", broken),
            Route("/static/app.css", page),
            Mount("/blog", routes=[Route("/", page)]),
        ]
    )
    traffic = CountingTraffic(inner, recorder=recorder)
    CountingTraffic.calls = 0
    app: Any = traffic
    if not fused:

        async def hidden(scope: Scope, receive: Receive, send: Send) -> None:
            await traffic(scope, receive, send)  # the same middleware, without its offer

        app = hidden
    gate_options.setdefault("policy", make_policy())
    gate_options.setdefault("secret_key", SECRET)
    return ConsentMiddleware(app, **gate_options)


def run(app: Any, requests: list[tuple[str, str, dict[str, str]]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(
            app=app, client=("203.0.113.7", 50000), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
            return [
                await c.request(method, url, headers={"user-agent": FIREFOX, **headers})
                for method, url, headers in requests
            ]

    return asyncio.run(go())


def decided(app: Any, action: str) -> str:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
            return await c.post("/consent", json={"action": action})

    return consent_cookie(asyncio.run(post()))


def test_a_returning_visitors_page_is_recorded_without_calling_the_middleware(
    tmp_path: Path,
) -> None:
    recorder = recorder_at(tmp_path, "spool")
    app = stack(recorder)
    cookie = decided(app, "accept_all")
    CountingTraffic.calls = 0
    headers = {"cookie": f"cookiewall={cookie}", "referer": "https://news.example.org/x"}
    responses = run(app, [("GET", "/", headers)] * 3)
    assert [r.status_code for r in responses] == [200] * 3
    assert {"theme", "_ga_1"} <= set(responses[0].cookies)  # allowed: passed as they were
    assert CountingTraffic.calls == 0  # fused: the gate observed the responses itself
    recorded = events(recorder)
    assert len(recorded) == 3
    assert {(e.path, e.status, e.consent, e.referrer_domain) for e in recorded} == {
        ("/", 200, "all", "example.org")
    }


REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/", {}),
    ("GET", "/?utm_source=news&x=secret", {"referer": "https://t.co/abc"}),
    ("GET", "/", {"sec-gpc": "1"}),
    ("HEAD", "/", {}),
    ("GET", "/missing", {}),
    ("GET", "/broken", {}),
    ("GET", "/blog/", {}),
    ("GET", "/consent/banner", {}),
    ("GET", "/static/app.css", {}),
    ("GET", "/", {"cookie": "cookiewall=tampered.value"}),
]


@pytest.mark.parametrize("record", ["pages", "all"])
@pytest.mark.parametrize("returning", [False, True], ids=["undecided", "returning"])
def test_fused_and_plain_stacks_record_and_answer_the_same(
    tmp_path: Path, record: str, returning: bool
) -> None:
    outcomes = []
    for fused in (True, False):
        recorder = recorder_at(
            tmp_path, f"spool-{fused}", record=record, exclude_paths=["/static/*"]
        )
        app = stack(recorder, fused=fused)
        extra = {"cookie": f"cookiewall={decided(app, 'reject_all')}"} if returning else {}
        requests = [(m, u, {**extra, **h}) for m, u, h in REQUESTS]
        responses = run(app, requests)
        answered = [
            (r.status_code, sorted(r.cookies), r.headers.get("cache-control")) for r in responses
        ]
        recorded = sorted(
            (e.path, e.method, e.status, e.consent, e.utm_source or "", e.visitor_id is None)
            for e in events(recorder)
        )
        outcomes.append((answered, recorded))
    assert outcomes[0] == outcomes[1]
    answered, recorded = outcomes[0]
    assert answered[0][0] == 200
    assert answered[5][0] == 500
    assert recorded, "nothing recorded"


@pytest.mark.parametrize(
    ("url", "options", "headers", "calls"),
    [
        pytest.param("/", {}, {}, 0, id="common-path-fused"),
        pytest.param("/static/app.css", {}, {}, 1, id="excluded-path"),
        pytest.param("/blog/", {}, {}, 0, id="starlette-mount-inside"),
        pytest.param("/", {"inject_banner": True}, {}, 1, id="banner-injected"),
        pytest.param("/", {}, {"cookie": "cookiewall=tampered.value"}, 1, id="gate-clears"),
    ],
)
def test_which_requests_still_go_through_the_middleware(
    tmp_path: Path, url: str, options: dict[str, Any], headers: dict[str, str], calls: int
) -> None:
    recorder = recorder_at(tmp_path, "spool", exclude_paths=["/static/*"])
    app = stack(recorder, **options)
    responses = run(app, [("GET", url, headers)])
    assert responses[0].status_code == 200
    assert CountingTraffic.calls == calls
    assert len(events(recorder)) == (0 if url.startswith("/static") else 1)


def test_record_all_and_a_root_path_are_left_to_the_middleware(tmp_path: Path) -> None:
    recorder = recorder_at(tmp_path, "spool", record="all")
    app = stack(recorder)
    assert run(app, [("GET", "/broken", {})])[0].status_code == 500
    assert CountingTraffic.calls == 1  # it must see the exception: a 500 counts
    assert [e.status for e in events(recorder)] == [500]

    mounted = recorder_at(tmp_path, "mounted")
    gate = stack(mounted)

    async def under_root(scope: Scope, receive: Receive, send: Send) -> None:
        await gate({**scope, "root_path": "/site", "path": "/site" + scope["path"]}, receive, send)

    CountingTraffic.calls = 0
    assert run(under_root, [("GET", "/", {})])[0].status_code == 200
    assert CountingTraffic.calls == 1
    assert [e.path for e in events(mounted)] == ["/site/"]


def test_the_observer_sees_the_apps_headers_before_the_gate_removes_any(tmp_path: Path) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    class Observer:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            raise AssertionError("fused: never called for a plain page")

        def observed_path(self, scope: Scope) -> str | None:
            return str(scope["path"])

        def observe_response(self, scope: Scope, path: str, message: Message) -> None:
            seen.append(list(message["headers"]))

    gate = ConsentMiddleware(
        Observer(Starlette(routes=[Route("/", page)])), policy=make_policy(), secret_key=SECRET
    )
    response = run(gate, [("GET", "/", {})])[0]  # undecided: _ga_1 and theme are removed
    assert response.status_code == 200
    assert not {"theme", "_ga_1"} & set(response.cookies)
    assert [v.split(b"=")[0] for k, v in seen[0] if k == b"set-cookie"] == [b"theme", b"_ga_1"]


def test_an_offer_declined_for_a_request_means_the_app_is_called(tmp_path: Path) -> None:
    called: list[str] = []

    class Declining:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            called.append(scope["path"])
            await self.app(scope, receive, send)

        def observed_path(self, scope: Scope) -> str | None:
            return None

        def observe_response(self, scope: Scope, path: str, message: Message) -> None:
            raise AssertionError("declined: never observed")

    gate = ConsentMiddleware(
        Declining(Starlette(routes=[Route("/", page)])), policy=make_policy(), secret_key=SECRET
    )
    assert run(gate, [("GET", "/", {})])[0].status_code == 200
    assert called == ["/"]


def test_a_recording_failure_in_the_fused_path_leaves_the_response_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = recorder_at(tmp_path, "spool")
    app = stack(recorder)

    def failing(*args: Any) -> None:
        raise ValueError("a bug in recording")

    monkeypatch.setattr(CountingTraffic, "_record", lambda self, *a: failing())
    responses = run(app, [("GET", "/", {})] * 2)
    assert [r.status_code for r in responses] == [200, 200]
    assert CountingTraffic.calls == 0
    assert recorder.stats.errors == 2
