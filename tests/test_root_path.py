"""ConsentMiddleware under a sub-path (ASGI `root_path`): a Starlette Mount, an old-style
server that strips the root from `path`, a real `uvicorn --root-path`, and the workaround of
a `path_prefix` that already names the mount."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from cookiewall import ConsentMiddleware
from cookiewall.consent import SALT
from cookiewall.endpoints import MAX_SITES
from tests.support import uvicorn_server
from tests.test_cookiewall_support import (
    SECRET,
    VERSION,
    call,
    consent_cookie,
    decide,
    home,
    http_scope,
    make_app,
    make_policy,
    run_asgi,
    set_cookies,
    state,
)

ORIGIN = {"origin": "http://testserver"}  # the endpoints' CSRF guard: a same-origin POST
URL_ATTRIBUTE = re.compile(r'(?:action|href|src)="([^"]*)"')


def shop(**options: Any) -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/", home), Route("/page", home), Route("/state", state)])
    options.setdefault("policy", make_policy())
    options.setdefault("secret_key", SECRET)
    options.setdefault("inject_banner", True)
    return ConsentMiddleware(inner, **options)


async def outer_home(request: Request) -> Response:
    return PlainTextResponse("the host's own root")


def mounted(**options: Any) -> Starlette:
    return Starlette(routes=[Route("/", outer_home), Mount("/shop", app=shop(**options))])


# uvicorn imports this (tests.test_root_path:served) in its own process.
served = shop()


def banner_urls(html: str) -> list[str]:
    return [url.replace("&amp;", "&") for url in URL_ATTRIBUTE.findall(html)]


def next_values(html: str) -> set[str]:
    return set(re.findall(r'name="next" value="([^"]*)"', html))


# -- the banner's URLs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "page", "prefix"),
    [
        (shop(), "/page?x=1", "/consent"),  # not mounted: exactly as before
        (mounted(), "/shop/page?x=1", "/shop/consent"),
        (mounted(path_prefix="/privacy"), "/shop/page?x=1", "/shop/privacy"),
        # The workaround from before root_path was honoured: the prefix names the mount.
        (mounted(path_prefix="/shop/consent"), "/shop/page?x=1", "/shop/consent"),
    ],
)
def test_injected_banner_points_below_the_mount(app: Any, page: str, prefix: str) -> None:
    response = call(app, "GET", page)
    assert response.status_code == 200
    urls = banner_urls(response.text)
    # accept, reject, save: every form and its button (formaction) post to the mount
    assert urls.count(prefix) == 6
    assert sorted(u.split("?")[0] for u in urls if u != prefix) == [
        f"{prefix}/cookies",
        f"{prefix}/static/banner.css",
        f"{prefix}/static/banner.js",
    ]
    assert next_values(response.text) == {page.replace("&", "&amp;")}
    # Every URL the banner emits answers where the browser will ask for it.
    for url in urls:
        if url != prefix:
            assert call(app, "GET", url).status_code == 200, url


def test_banner_endpoint_under_the_mount() -> None:
    response = call(mounted(), "GET", "/shop/consent/banner?next=/shop/page")
    assert response.status_code == 200
    assert set(banner_urls(response.text)) >= {"/shop/consent", "/shop/consent/cookies?format=html"}
    assert next_values(response.text) == {"/shop/page"}
    foreign = call(mounted(), "GET", "/shop/consent/banner?next=//evil.example")
    assert next_values(foreign.text) == {"/shop/"}


def test_each_root_path_renders_once_and_the_cache_is_bounded() -> None:
    app = shop()
    assert app.endpoints.site("/shop") is app.endpoints.site("/shop")

    async def go() -> None:
        for index in range(MAX_SITES + 40):
            root = f"/m{index}"
            scope = http_scope(f"{root}/consent/banner")
            scope["root_path"] = root
            sent = await run_asgi(app, scope)
            assert sent[0]["status"] == 200
            assert f'action="{root}/consent"' in sent[1]["body"].decode()

    asyncio.run(go())
    assert len(app.endpoints._sites) <= MAX_SITES


# -- deciding under the mount ---------------------------------------------------------------


def test_form_post_under_the_mount_scopes_the_cookie_and_is_read_there() -> None:
    app = mounted()
    response = call(
        app,
        "POST",
        "/shop/consent",
        data={"action": "save", "categories": ["analytics"], "next": "/shop/page?x=1"},
        headers=ORIGIN,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/shop/page?x=1"
    header = set_cookies(response)["cookiewall"]
    assert "; Path=/shop;" in header
    value = consent_cookie(response)
    cookie = {"cookie": f"cookiewall={value}"}
    inner = call(app, "GET", "/shop/state", headers=cookie).json()
    assert inner["decided"] is True
    assert inner["granted"] == ["analytics", "necessary"]
    endpoint = call(app, "GET", "/shop/consent", headers=cookie).json()
    assert endpoint["granted"] == ["analytics", "necessary"]
    # A decided visitor's page has no banner.
    assert "cookiewall-form" not in call(app, "GET", "/shop/page", headers=cookie).text


def test_json_post_under_the_mount() -> None:
    response = call(mounted(), "POST", "/shop/consent", json={"action": "accept_all"})
    assert response.status_code == 200
    assert response.json()["decided"] is True
    assert "; Path=/shop;" in set_cookies(response)["cookiewall"]


def test_cross_site_post_under_the_mount_is_refused() -> None:
    response = call(
        mounted(),
        "POST",
        "/shop/consent",
        data={"action": "accept_all"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_the_unmounted_cookie_stays_at_the_root() -> None:
    response = call(shop(), "POST", "/consent", json={"action": "accept_all"})
    assert "; Path=/;" in set_cookies(response)["cookiewall"]


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/shop/page", "/shop/page"),
        ("/shop/a/b?c=d&e=f#top", "/shop/a/b?c=d&e=f#top"),
        ("/shop", "/shop"),
        ("/shop?x=1", "/shop?x=1"),
        ("/shop/", "/shop/"),
        ("/shop//evil.example", "/shop//evil.example"),  # a path below the mount, not a host
        ("/shop/%2F%2Fevil.example", "/shop/%2F%2Fevil.example"),
        ("", "/shop/"),
        ("/", "/shop/"),  # outside the mount, where the consent cookie is not sent
        ("/other", "/shop/"),
        ("/shopping", "/shop/"),
        ("/shop/../admin", "/shop/"),
        ("/shop/%2e%2e/admin", "/shop/"),
        ("/shop/.%2E/admin", "/shop/"),
        ("/shop/%2E./admin", "/shop/"),
        ("/shop/a/..", "/shop/"),
        ("//evil.example", "/shop/"),
        ("//evil.example/shop/", "/shop/"),
        ("///evil.example", "/shop/"),
        ("/\\evil.example", "/shop/"),
        ("/shop\\..\\evil", "/shop/"),
        ("https://evil.example/shop/", "/shop/"),
        ("http://testserver/shop/page", "/shop/"),
        ("javascript:alert(1)", "/shop/"),
        ("shop/page", "/shop/"),
        ("/shop/page\r\nSet-Cookie: evil=1", "/shop/"),
        ("/shop/page\nLocation: https://evil.example", "/shop/"),
        ("/shop/caf\u00e9", "/shop/caf%C3%A9"),  # a decoded path: encoded, kept
        ("/shop/" + "a" * 3000, "/shop/"),
    ],
)
def test_next_stays_below_the_mount(next_value: str, location: str) -> None:
    response = call(
        mounted(),
        "POST",
        "/shop/consent",
        data={"action": "accept_all", "next": next_value},
        headers=ORIGIN,
    )
    assert response.status_code == 303
    assert response.headers["location"] == location
    assert list(set_cookies(response)) == ["cookiewall"]  # nothing injected into headers


def test_withdraw_under_the_mount_clears_the_mount_and_the_old_root_cookie() -> None:
    app = mounted()
    value = consent_cookie(call(app, "POST", "/shop/consent", json={"action": "accept_all"}))
    response = call(
        app, "DELETE", "/shop/consent", headers={**ORIGIN, "cookie": f"cookiewall={value}"}
    )
    assert response.status_code == 200
    assert response.json()["decided"] is False
    clears = [h for h in response.headers.get_list("set-cookie") if h.startswith("cookiewall=")]
    paths = re.findall(r"Path=([^;]*)", "; ".join(h for h in clears if "Domain=" not in h))
    # The mount and the old root, and (tests/test_withdrawal_expires_every_consent_cookie_copy.py)
    # every other path from which a planted copy could reach the endpoint.
    assert sorted(paths) == ["/", "/shop", "/shop/", "/shop/consent"]
    assert all("Max-Age=0" in h for h in clears)


def test_a_bad_cookie_under_the_mount_is_cleared_there() -> None:
    response = call(mounted(), "GET", "/shop/state", headers={"cookie": "cookiewall=forged"})
    assert response.json()["decided"] is False
    header = set_cookies(response)["cookiewall"]
    assert "Max-Age=0" in header
    assert "Path=/shop" in header


def test_declaration_and_gpc_under_the_mount() -> None:
    app = mounted()
    declaration = call(app, "GET", "/shop/consent/cookies")
    assert declaration.status_code == 200
    assert declaration.json()["consent_cookie"]["name"] == "cookiewall"
    assert "<table" in call(app, "GET", "/shop/consent/cookies?format=html").text
    gpc = call(app, "GET", "/shop/.well-known/gpc.json")
    assert gpc.status_code == 200
    assert gpc.json()["gpc"] is True
    # The mounted app's routes stay its own: the host's root is not answered for it.
    assert call(app, "GET", "/consent").status_code == 404
    assert call(app, "GET", "/").text == "the host's own root"


# -- servers that strip the root path from `path` (before ASGI said otherwise) --------------


@pytest.mark.parametrize("keeps_root", [True, False], ids=["path-has-root", "path-stripped"])
def test_both_server_styles(keeps_root: bool) -> None:
    app = shop()

    def scope(route: str, method: str = "GET", body_type: bytes = b"") -> dict[str, Any]:
        path = f"/shop{route}" if keeps_root else route
        headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
        if body_type:
            headers.append((b"content-type", body_type))
        result = http_scope(path, method, headers)
        result["root_path"] = "/shop"
        return result

    async def go() -> None:
        page = await run_asgi(app, scope("/page"))
        html = page[1]["body"].decode()
        assert 'action="/shop/consent"' in html
        assert next_values(html) == {"/shop/page"}
        form = b"action=reject_all&next=%2Fshop%2Fpage"
        posted = await run_asgi(
            app, scope("/consent", "POST", b"application/x-www-form-urlencoded"), form
        )
        start = posted[0]
        assert start["status"] == 303
        headers = dict(start["headers"])
        assert headers[b"location"] == b"/shop/page"
        assert b"; Path=/shop;" in headers[b"set-cookie"]
        css = await run_asgi(app, scope("/consent/static/banner.css"))
        assert css[0]["status"] == 200

    asyncio.run(go())


# -- hostile or odd root paths (they come from the server, but be defensive) ----------------


@pytest.mark.parametrize(
    ("root_path", "action", "cookie_path"),
    [
        ("/shop/", "/shop/consent", "/shop"),
        ("/", "/consent", "/"),
        ("/caf\u00e9", "/caf%C3%A9/consent", "/caf%C3%A9"),
        ('/a";b<x>', "/a%22%3Bb%3Cx%3E/consent", "/a%22%3Bb%3Cx%3E"),
        ("/a\r\nSet-Cookie: x=1", "/consent", "/"),  # unusable: served as if at the root
        ("shop", "/consent", "/"),
    ],
)
def test_odd_root_paths_never_break_out(root_path: str, action: str, cookie_path: str) -> None:
    app = shop()

    async def go() -> None:
        headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
        banner = http_scope("/consent/banner")
        banner["root_path"] = root_path
        sent = await run_asgi(app, banner)
        assert sent[0]["status"] == 200
        assert f'action="{action}"' in sent[1]["body"].decode()
        post = http_scope("/consent", "POST", headers)
        post["root_path"] = root_path
        sent = await run_asgi(app, post, b'{"action": "accept_all"}')
        assert sent[0]["status"] == 200
        (cookie,) = [v for k, v in sent[0]["headers"] if k == b"set-cookie"]
        assert f"; Path={cookie_path};".encode() in cookie
        assert b"\r" not in cookie
        assert b"\n" not in cookie

    asyncio.run(go())


# -- a real uvicorn behind a proxy that strips /shop ----------------------------------------


def test_real_uvicorn_with_root_path() -> None:
    with (
        uvicorn_server("tests.test_root_path:served", extra_args=("--root-path", "/shop")) as (
            base,
            _,
        ),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        # The proxy strips /shop: uvicorn puts it back into path and root_path.
        page = client.get("/page")
        assert page.status_code == 200
        assert set(banner_urls(page.text)) >= {"/shop/consent"}
        assert next_values(page.text) == {"/shop/page"}
        posted = client.post(
            "/consent",
            data={"action": "accept_all", "next": "/shop/page"},
            headers={"origin": base},
            follow_redirects=False,
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == "/shop/page"
        assert "; Path=/shop;" in set_cookies(posted)["cookiewall"]
        assert client.get("/consent/static/banner.js").status_code == 200


def test_the_cookie_declaration_gives_the_consent_cookie_path_under_the_mount() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from cookiewall import Category
    from tests.test_cookiewall_support import call, make_app, make_policy

    # A policy without a category named "necessary": the row uses its own required one.
    policy = make_policy(
        categories=[Category("essential", required=True), Category("analytics")], cookies=[]
    )
    outer = Starlette(routes=[Mount("/shop", app=make_app(policy=policy))])
    data = call(outer, "GET", "/shop/consent/cookies").json()
    assert data["consent_cookie"]["path"] == "/shop"
    html = call(outer, "GET", "/shop/consent/cookies?format=html").text
    assert "<td>Essential</td><td>cookiewall</td>" in html
    assert "<td>/shop</td>" in html
    assert "<td>Necessary</td>" not in html
    root = call(make_app(policy=policy), "GET", "/consent/cookies").json()
    assert root["consent_cookie"]["path"] == "/"


# -- two apps on one host: the mounted one leaves the root app's decision alone -----------------

SHOP_SECRET = "another-secret-key-for-the-shop-0001"


def _two_apps() -> tuple[Starlette, ConsentMiddleware, ConsentMiddleware]:
    root = make_app()
    shop = make_app(secret_key=SHOP_SECRET)
    return Starlette(routes=[Mount("/shop", app=shop), Mount("/", app=root)]), root, shop


def test_mounted_app_neither_rejects_nor_clears_the_root_apps_decision() -> None:
    """The browser sends the root app's Path=/ consent cookie to /shop/... too. The shop app
    took it for a bad cookie of its own: on every request a bad_cookies count and a clearing
    Set-Cookie (which, being a Set-Cookie, also made each response private)."""
    host, root, shop = _two_apps()
    value = decide(root, "accept_all")
    for _ in range(3):
        response = call(host, "GET", "/shop/state", headers={"cookie": f"cookiewall={value}"})
        assert response.json()["decided"] is False  # the shop asks on its own
        assert "set-cookie" not in response.headers
    assert shop.stats["bad_cookies"] == 0


def test_mounted_app_still_reads_its_own_decision_beside_the_root_apps() -> None:
    host, root, _ = _two_apps()
    root_value = decide(root, "accept_all")
    response = call(host, "POST", "/shop/consent", json={"action": "reject_all"})
    shop_value = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    # Browsers send the longer path first.
    cookie = f"cookiewall={shop_value}; cookiewall={root_value}"
    state = call(host, "GET", "/shop/state", headers={"cookie": cookie}).json()
    assert state["summary"] == "none"
    assert (
        call(host, "GET", "/state", headers={"cookie": f"cookiewall={root_value}"}).json()[
            "summary"
        ]
        == "all"
    )


@pytest.mark.parametrize(
    "value",
    [
        "expired",  # signed with the shop's key, too old: the shop's own, cleared
        "forged",  # not a token at all (a token signed elsewhere is left alone, see above)
    ],
)
def test_mounted_app_still_clears_a_bad_cookie_of_its_own(value: str) -> None:
    host, _, shop = _two_apps()
    payload = {
        "v": VERSION if value == "expired" else "2000-01-01",
        "g": [],
        "t": int(time.time()) - (400 * 86400 if value == "expired" else 0),
        "r": "r1",
    }
    signed = URLSafeSerializer(SHOP_SECRET.encode(), salt=SALT).dumps(payload)
    if value == "forged":
        signed = "forged"
    response = call(host, "GET", "/shop/state", headers={"cookie": f"cookiewall={signed}"})
    assert "Path=/shop" in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert shop.stats["bad_cookies"] == 1


def test_mounted_app_keeps_its_own_decision_of_another_policy_version() -> None:
    """The shop's key, an older policy version: undecided here, but no bad cookie (the
    decision of the shop's servers still on that version), so not cleared."""
    host, _, shop = _two_apps()
    payload = {"v": "2000-01-01", "g": [], "t": int(time.time()), "r": "r1"}
    signed = URLSafeSerializer(SHOP_SECRET.encode(), salt=SALT).dumps(payload)
    response = call(host, "GET", "/shop/state", headers={"cookie": f"cookiewall={signed}"})
    assert response.json()["decided"] is False
    assert "set-cookie" not in response.headers
    assert shop.stats["bad_cookies"] == 0
