"""`navigation_paths`: a site lists its client-side routes, and a navigation beacon naming any
other path is refused (400) and records nothing, so a client cannot put arbitrary paths into
`daily_pages` through the beacon (whose page is a 200 whatever the path). Through the real
TrafficMiddleware, Recorder and spool, in process."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from analytics import Recorder, TrafficMiddleware
from tests.recording_support import SITE, html_app, spooled

ORIGIN = f"https://{SITE}"
BROWSER = {
    "origin": ORIGIN,
    "sec-fetch-site": "same-origin",
    "content-type": "text/plain;charset=UTF-8",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}
ROUTES = ["/", "/app/*", "/products/*", "/users/*", "/café/*"]

Routes = Iterable[str] | Callable[[str], bool] | None


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE, exclude_paths=["/app/admin"])
    yield recorder
    recorder.close()


def _posts(app: Any, *calls: tuple[str, str]) -> list[httpx.Response]:
    """Each call `(beacon path, page navigated to)` posted as the script posts it."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return [
                await client.post(beacon, content=_body(to), headers=BROWSER)
                for beacon, to in calls
            ]

    return asyncio.run(go())


def _body(to: str) -> str:
    return json.dumps({"path": to, "from": "/app/home"})


def _site(recorder: Recorder, routes: Routes) -> TrafficMiddleware:
    return TrafficMiddleware(
        html_app, recorder=recorder, navigation_beacon="/_navigation", navigation_paths=routes
    )


def _paths(recorder: Recorder) -> list[str]:
    return [event["path"] for event in spooled(recorder)]


@pytest.mark.parametrize(
    ("to", "status", "recorded"),
    [
        ("/", 204, ["/"]),
        ("/app/settings", 204, ["/app/settings"]),
        ("/app/settings/profile?tab=2", 204, ["/app/settings/profile"]),
        ("/products/42", 204, ["/products/42"]),
        # Matched before redaction: the route matches the address, stored redacted.
        ("/users/alice%40example.com", 204, ["/users/:redacted"]),
        ("/users/alice@example.com", 204, ["/users/:redacted"]),
        # Matched decoded, as the app's router and exclude_paths see the path.
        ("/caf%C3%A9/menu", 204, ["/café/menu"]),
        ("/app/admin", 204, []),  # listed but excluded: silent, as its request would be
        # Not a route: a scanner's paths, a near miss, and a route named only in the query.
        ("/wp-login.php", 400, []),
        ("/.env", 400, []),
        ("/apps", 400, []),
        ("/app", 400, []),  # fnmatch: "/app/*" is what is below /app, not /app itself
        ("/APP/settings", 400, []),  # case-sensitive, as paths and exclude_paths are
        ("/search?next=/app/x", 400, []),
        ("/caf%25C3%25A9/menu", 400, []),  # decoded once: "/caf%C3%A9/menu" is no route
    ],
)
def test_only_a_listed_route_is_a_page_view(
    recorder: Recorder, to: str, status: int, recorded: list[str]
) -> None:
    (reply,) = _posts(_site(recorder, ROUTES), ("/_navigation", to))
    assert reply.status_code == status
    if status == 400:
        assert reply.json() == {
            "error": "the path is not one of this app's pages (navigation_paths)"
        }
    assert _paths(recorder) == recorded


@pytest.mark.parametrize(
    ("routes", "to", "status"),
    [
        (None, "/anything/at/all", 204),  # the default: no restriction, as before the option
        ("/app/*", "/app/x", 204),  # one pattern given as a string, as exclude_paths takes
        ("/app/*", "/other", 400),
        (("/a", "/b"), "/b", 204),
        ({"/a", "/b"}, "/c", 400),
        ("*.html", "/blog/post.html", 204),  # a leading wildcard, as exclude_paths allows
        ("*.html", "/blog/post", 400),
        ("/docs/[a-z]*", "/docs/intro", 204),
        ("/docs/[a-z]*", "/docs/1-intro", 400),
    ],
)
def test_patterns_are_taken_as_exclude_paths_takes_them(
    recorder: Recorder, routes: Routes, to: str, status: int
) -> None:
    (reply,) = _posts(_site(recorder, routes), ("/_navigation", to))
    assert reply.status_code == status
    assert len(spooled(recorder)) == (1 if status == 204 else 0)


def test_a_route_table_callable_decides_with_segment_precision(recorder: Recorder) -> None:
    table = [re.compile(r"/"), re.compile(r"/users/[^/]+"), re.compile(r"/users/[^/]+/posts")]
    asked: list[str] = []

    def is_route(path: str) -> bool:
        asked.append(path)
        return any(route.fullmatch(path) for route in table)

    replies = _posts(
        _site(recorder, is_route),
        ("/_navigation", "/users/bob?tab=posts"),
        ("/_navigation", "/users/bob/posts"),
        ("/_navigation", "/users/bob/secrets"),
        ("/_navigation", "/users/"),
        ("/_navigation", "/users/b%C3%B6b"),
    )
    assert [reply.status_code for reply in replies] == [204, 204, 400, 400, 204]
    # Given the path alone, decoded: no query string, no origin.
    assert asked == [
        "/users/bob", "/users/bob/posts", "/users/bob/secrets", "/users/", "/users/böb"
    ]  # fmt: skip
    assert _paths(recorder) == ["/users/bob", "/users/bob/posts", "/users/böb"]


def test_a_callable_that_raises_refuses_the_beacon_and_logs_no_path(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def is_route(path: str) -> bool:
        raise KeyError(path)  # a route table's lookup, quoting the path in its message

    caplog.set_level(logging.DEBUG)
    failing, other = _posts(
        _site(recorder, is_route),
        ("/_navigation", "/users/alice@example.com"),
        ("/_navigation", "/users/bob"),
    )
    assert (failing.status_code, other.status_code) == (400, 400)
    assert _paths(recorder) == []
    assert recorder.stats.errors == 2
    assert "KeyError" in caplog.text
    assert "alice" not in caplog.text
    assert "/users" not in caplog.text


def test_page_requests_are_recorded_whatever_navigation_paths_lists(recorder: Recorder) -> None:
    # The option bounds what a beacon may name; a page the server sends is counted as always.
    app = _site(recorder, ["/app/*"])

    async def go() -> int:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return (await client.get("/blog/hello", headers=BROWSER)).status_code

    assert asyncio.run(go()) == 200
    assert _paths(recorder) == ["/blog/hello"]


def _shop(recorder: Recorder, routes: Routes) -> Starlette:
    shop = _site(recorder, routes)

    async def home(request: object) -> HTMLResponse:
        return HTMLResponse("<p>home</p>")

    return Starlette(routes=[Route("/", home), Mount("/shop", app=shop)])


@pytest.mark.parametrize(
    ("routes", "to", "status", "recorded"),
    [
        (["/cart", "/products/*"], "/shop/cart", 204, ["/shop/cart"]),
        (["/cart", "/products/*"], "/shop/products/9?ref=x", 204, ["/shop/products/9"]),
        (["/", "/cart"], "/shop", 204, ["/shop"]),  # the mount itself is its app's "/"
        (["/cart", "/products/*"], "/shop/blog", 400, []),
        # Relative to the mount, as exclude_paths are: the browser's full path is no pattern.
        (["/shop/*"], "/shop/cart", 400, []),
        (["/shop/*"], "/shop/shop/cart", 204, ["/shop/shop/cart"]),
    ],
)
def test_under_a_mount_patterns_are_below_the_mount(
    recorder: Recorder, routes: list[str], to: str, status: int, recorded: list[str]
) -> None:
    (reply,) = _posts(_shop(recorder, routes), ("/shop/_navigation", to))
    assert reply.status_code == status
    assert _paths(recorder) == recorded


def test_under_a_mount_a_callable_is_given_the_path_below_it(recorder: Recorder) -> None:
    asked: list[str] = []

    def is_route(path: str) -> bool:
        asked.append(path)
        return True

    replies = _posts(
        _shop(recorder, is_route),
        ("/shop/_navigation", "/shop/cart?x=1"),
        ("/shop/_navigation", "/shop"),
        ("/shop/_navigation", "/elsewhere"),  # outside the mount: refused before asking
    )
    assert [reply.status_code for reply in replies] == [204, 204, 400]
    assert asked == ["/cart", "/"]


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (["app/*"], "navigation_paths: 'app/*' is not a path pattern"),
        (["/app/*", "products"], "navigation_paths: 'products' is not a path pattern"),
        ([b"/app/*"], "navigation_paths: b'/app/*' is not a path pattern"),
        (["/app/*", None], "navigation_paths: None is not a path pattern"),
        ("", "navigation_paths: '' is not a path pattern"),
        (42, "navigation_paths: 42 is not a list of path patterns"),
        ([], "navigation_paths is empty, so every navigation would be refused"),
        ((), "navigation_paths is empty"),
    ],
)
def test_a_bad_route_list_is_a_value_error_naming_it_at_build_time(
    recorder: Recorder, routes: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        _site(recorder, routes)


def test_navigation_paths_without_the_beacon_is_a_value_error(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match=r"navigation_paths .* needs navigation_beacon"):
        TrafficMiddleware(html_app, recorder=recorder, navigation_paths=["/app/*"])


def test_help_explains_the_option() -> None:
    doc = TrafficMiddleware.__doc__ or ""
    assert "`navigation_paths` (None: any path)" in doc
