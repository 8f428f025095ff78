"""A mounted app with its own gate (README, *Under a sub-path*) inside a site whose whole app
has the site's gate (the README stack): the mount's gate governs the mount's requests.

The site's gate used to gate the shop's answers again by the site's policy: it removed the
shop's consent cookie (the site's reserved name, or undeclared under another name), so the
shop's "Accept" answered 200 and nothing was stored, and every shop page carried both banners
for good. Now the site's gate leaves alone what the shop's gate sent, and only that: cookies
that a layer between the two gates adds, or that name the site's consent cookie, and any page
the shop's gate did not answer, are the site's to gate as before.

The shop's consent speaks for the shop's part of the host only: a shop cookie the browser
would send to the site's other pages (`Path=/`, a `Domain`) is gated by the site's policy too,
the shop's answers never set or clear the site's consent cookie outside the mount, a page a
layer between the gates puts in place of the shop's answer is the site's, and the site's
recorder counts shop pages with the site's decision.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cookiewall import Category, ConsentMiddleware, CookieRule, Policy, ReceiptLog
from cookiewall.dependencies import get_consent, get_gate
from tests.test_cookiewall_support import call, set_cookies

SITE_KEY = "site-secret-key-0123456789abcdef"
SHOP_KEY = "shop-secret-key-0123456789abcdef"
PAGE = "<!doctype html><html><head><title>x</title></head><body><p>x</p></body></html>"
ORIGIN = {"origin": "http://testserver"}


def _policy(version: str, **overrides: Any) -> Policy:
    options: dict[str, Any] = {
        "version": version,
        "categories": [
            Category("necessary", required=True, description="Needed."),
            Category("preferences", description="Settings."),
            Category("marketing", description="Ads.", gpc_opt_out=True),
        ],
        "cookies": [
            CookieRule("theme", "preferences"),
            CookieRule("ad_id", "marketing"),
        ],
    }
    options.update(overrides)
    return Policy(**options)


async def _page(request: Request) -> Response:
    """An HTML page that sets a preferences and a marketing cookie, as a shop's page might."""
    response = HTMLResponse(PAGE)
    response.set_cookie("theme", "dark")
    response.set_cookie("ad_id", "42")
    return response


async def _shop_page(request: Request) -> Response:
    """A shop's page that sets its cookies below the mount (`path=root_path`: `/shop`), as a
    shop must for the shop's consent to be enough for them (see `_confined_below`)."""
    response = HTMLResponse(PAGE)
    response.set_cookie("theme", "dark", path=request.scope["root_path"])
    response.set_cookie("ad_id", "42", path=request.scope["root_path"])
    return response


async def _whose(request: Request) -> Response:
    consent = get_consent(request)
    gate = get_gate(request)
    return JSONResponse(
        {"version": consent.policy_version, "decided": consent.decided, "key": gate.cookie_name}
    )


class _AddsCookies:
    """A layer of the site between its gate and the mount: adds Set-Cookies to every answer."""

    def __init__(self, app: ASGIApp, cookies: tuple[bytes, ...] = (b"ad_id=site",)) -> None:
        self.app = app
        self.cookies = cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_more(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers += [(b"set-cookie", value) for value in self.cookies]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_more)


def _shop(**options: Any) -> ConsentMiddleware:
    app = Starlette(
        routes=[Route("/p", _shop_page), Route("/site-wide", _page), Route("/whose", _whose)]
    )
    options.setdefault("policy", _policy("shop-1"))
    return ConsentMiddleware(app, secret_key=[SHOP_KEY], inject_banner=True, **options)


def _site(shop: Any, *, layers: tuple[Middleware, ...] = (), **site_options: Any) -> Starlette:
    """The README stack: the site's gate around the whole app, the shop mounted in it."""
    options: dict[str, Any] = {
        "policy": _policy("site-1"),
        "secret_key": [SITE_KEY],
        "inject_banner": True,
    }
    options.update(site_options)
    return Starlette(
        routes=[Route("/p", _page), Route("/whose", _whose), Mount("/shop", app=shop)],
        middleware=[Middleware(ConsentMiddleware, **options), *layers],
    )


def _banner_forms(response: Any) -> set[str]:
    """Where the banners in the page post their forms."""
    return set(re.findall(r'<form[^>]*action="([^"]*)"', response.text))


def _accept(app: Any, where: str, **headers: str) -> Any:
    response = call(
        app, "POST", where, json={"action": "accept_all"}, headers={**ORIGIN, **headers}
    )
    assert response.status_code == 200, response.text
    assert response.json()["decided"] is True
    return response


# -- the README's case ---------------------------------------------------------------------------


def test_a_decision_in_the_mount_is_stored_and_its_pages_carry_one_banner() -> None:
    app = _site(_shop())
    before = call(app, "GET", "/shop/p")
    assert before.text.count('role="region"') == 1
    assert _banner_forms(before) == {"/shop/consent"}
    assert "theme" not in set_cookies(before)
    assert "ad_id" not in set_cookies(before)

    accepted = _accept(app, "/shop/consent")
    stored = set_cookies(accepted)["cookiewall"]
    assert "Path=/shop" in stored
    token = stored.split(";", 1)[0].split("=", 1)[1]

    after = call(app, "GET", "/shop/p", headers={"cookie": f"cookiewall={token}"})
    assert after.text.count('role="region"') == 0  # the shop's visitor decided: no banner
    # The shop's policy governs its pages: its visitor's yes is enough.
    assert set(set_cookies(after)) == {"theme", "ad_id"}
    whose = call(app, "GET", "/shop/whose", headers={"cookie": f"cookiewall={token}"}).json()
    assert whose["version"] == "shop-1"
    assert whose["decided"] is True


def test_under_another_cookie_name_the_mounts_consent_cookie_is_not_undeclared() -> None:
    shop = _shop(cookie_name="shopconsent")
    site = _site(shop)
    accepted = _accept(site, "/shop/consent")
    assert "Path=/shop" in set_cookies(accepted)["shopconsent"]
    token = set_cookies(accepted)["shopconsent"].split(";")[0].split("=", 1)[1]
    page = call(site, "GET", "/shop/p", headers={"cookie": f"shopconsent={token}"})
    assert page.text.count('role="region"') == 0
    assert call(site, "GET", "/p").text.count('role="region"') == 1
    # The site's gate removed nothing of the shop's: the shop's consent cookie is the shop's.
    (site_gate,) = _gates_of(site)
    assert "shopconsent" not in site_gate.undeclared
    assert site_gate.removed_by_name == {"theme": 1, "ad_id": 1}  # on /p, nothing else


def _gates_of(app: Starlette) -> list[ConsentMiddleware]:
    """The site's gate, as Starlette built it from `middleware=[...]`."""
    layer: Any = app.middleware_stack
    found = []
    while layer is not None:
        if isinstance(layer, ConsentMiddleware):
            found.append(layer)
        layer = getattr(layer, "app", None)
    return found


def test_pages_outside_the_mount_keep_the_sites_gate() -> None:
    app = _site(_shop())
    token = set_cookies(_accept(app, "/shop/consent"))["cookiewall"].split(";")[0].split("=", 1)[1]
    # The browser sends the shop's cookie only below /shop: the site's visitor is undecided.
    page = call(app, "GET", "/p")
    assert _banner_forms(page) == {"/consent"}
    assert page.text.count('role="region"') == 1
    assert "theme" not in set_cookies(page)
    assert "ad_id" not in set_cookies(page)
    # The site's own decision, at Path=/, and its own endpoints, as before.
    site_accept = _accept(app, "/consent")
    assert "Path=/" in set_cookies(site_accept)["cookiewall"]
    site_token = set_cookies(site_accept)["cookiewall"].split(";")[0].split("=", 1)[1]
    assert site_token != token
    decided = call(app, "GET", "/p", headers={"cookie": f"cookiewall={site_token}"})
    assert decided.text.count('role="region"') == 0
    assert set(set_cookies(decided)) == {"theme", "ad_id"}
    assert (
        call(app, "GET", "/whose", headers={"cookie": f"cookiewall={site_token}"}).json()["version"]
        == "site-1"
    )


def test_a_site_decision_does_not_decide_for_the_mount() -> None:
    app = _site(_shop())
    site_token = set_cookies(_accept(app, "/consent"))["cookiewall"].split(";")[0].split("=", 1)[1]
    # Below /shop the browser sends the site's Path=/ cookie too: the shop cannot verify it.
    page = call(app, "GET", "/shop/p", headers={"cookie": f"cookiewall={site_token}"})
    assert _banner_forms(page) == {"/shop/consent"}
    assert page.text.count('role="region"') == 1
    assert "theme" not in set_cookies(page)
    assert "ad_id" not in set_cookies(page)
    assert "cookiewall" not in set_cookies(page)  # nobody clears anybody's decision


def test_the_mounts_receipts_and_gpc_are_its_own(tmp_path: Path) -> None:
    receipts = ReceiptLog(tmp_path / "shop.jsonl")
    app = _site(_shop(receipts=receipts))
    accepted = _accept(app, "/shop/consent", **{"sec-gpc": "1"})
    assert len((tmp_path / "shop.jsonl").read_text().splitlines()) == 1
    token = set_cookies(accepted)["cookiewall"].split(";")[0].split("=", 1)[1]
    page = call(app, "GET", "/shop/p", headers={"cookie": f"cookiewall={token}", "sec-gpc": "1"})
    # GPC refuses marketing in the shop as the shop's policy says; preferences pass.
    assert set(set_cookies(page)) == {"theme"}


# -- what must stay gated ------------------------------------------------------------------------


def test_cookies_a_site_layer_adds_to_the_mounts_answers_stay_gated_by_the_site() -> None:
    layer = Middleware(_AddsCookies, cookies=(b"ad_id=site", b"theme=light; Path=/"))
    app = _site(_shop(), layers=(layer,))
    token = set_cookies(_accept(app, "/shop/consent"))["cookiewall"].split(";")[0].split("=", 1)[1]
    page = call(app, "GET", "/shop/p", headers={"cookie": f"cookiewall={token}"})
    sent = page.headers.get_list("set-cookie")
    # The shop's own theme and ad_id (its visitor agreed); the site layer's, for a visitor
    # undecided on the site, removed.
    assert sorted(h.split(";")[0] for h in sent) == ["ad_id=42", "theme=dark"]


def test_a_copy_of_the_mounts_cookie_added_outside_it_is_gated() -> None:
    """The site's gate passes as many of a Set-Cookie as the shop's gate sent, no more."""
    shops_theme = b"theme=dark; Path=/shop; SameSite=lax"  # Starlette's, with path="/shop"
    layer = Middleware(_AddsCookies, cookies=(shops_theme,))
    app = _site(_shop(), layers=(layer,))
    token = set_cookies(_accept(app, "/shop/consent"))["cookiewall"].split(";")[0].split("=", 1)[1]
    page = call(app, "GET", "/shop/p", headers={"cookie": f"cookiewall={token}"})
    sent = [h for h in page.headers.get_list("set-cookie") if h.startswith("theme=")]
    assert sent == [shops_theme.decode()]


@pytest.mark.parametrize(
    "forged", [b"cookiewall=FORGED; Path=/", b"=cookiewall=FORGED; Path=/", b" cookiewall =FORGED"]
)
def test_a_mounted_app_cannot_set_the_sites_consent_cookie(forged: bytes) -> None:
    """Under another cookie name, a shop whose policy lets any cookie pass would otherwise write
    the site's decision: the site's consent cookie is set by the site's endpoints alone."""

    async def forging(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain"), (b"set-cookie", forged)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    shop = ConsentMiddleware(
        forging,
        policy=_policy("shop-1", unknown_cookies="allow"),
        secret_key=[SHOP_KEY],
        cookie_name="shopconsent",
    )
    response = call(_site(shop), "GET", "/shop/anything")
    assert response.status_code == 200
    assert not [h for h in response.headers.get_list("set-cookie") if "FORGED" in h]


class _Forger:
    """An app that writes what a mount's gate leaves in the request state, then answers a page
    with a marketing cookie: the site's gate must not take its word for it."""

    def __init__(self, mark: Any) -> None:
        self.mark = mark

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        other = ConsentMiddleware(_Forger(None), policy=_policy("x"), secret_key=[SHOP_KEY])
        scope["state"]["cookiewall.inner_gate"] = self.mark(other)
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"set-cookie", b"ad_id=1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE.encode()})


@pytest.mark.parametrize(
    "mark",
    [
        lambda gate: True,
        lambda gate: gate,
        lambda gate: SimpleNamespace(gate=gate, cookie_path="/x", set_cookies=[b"ad_id=1"]),
        lambda gate: {"gate": gate, "cookie_path": "/x", "set_cookies": [b"ad_id=1"]},
    ],
    ids=["true", "a gate", "a look-alike report", "a dict"],
)
def test_an_app_cannot_escape_the_gate_by_writing_the_mark(mark: Any) -> None:
    gate = ConsentMiddleware(
        _Forger(mark), policy=_policy("site-1"), secret_key=[SITE_KEY], inject_banner=True
    )
    response = call(gate, "GET", "/")
    assert "ad_id" not in set_cookies(response)
    assert response.text.count('role="region"') == 1


def test_a_page_the_site_answers_for_the_mounts_error_is_the_sites() -> None:
    """The shop's gate reached, its app raising before answering: the site's exception handler
    (inside the site's gate) answers, and that page is gated and gets the site's banner."""

    class ShopError(Exception):
        pass

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise ShopError

    async def handler(request: Request, exc: Exception) -> Response:
        return await _page(request)

    shop = ConsentMiddleware(failing, policy=_policy("shop-1"), secret_key=[SHOP_KEY])
    app = _site(shop)
    app.add_exception_handler(ShopError, handler)
    response = call(app, "GET", "/shop/p")
    assert response.status_code == 200
    assert _banner_forms(response) == {"/consent"}
    assert response.text.count('role="region"') == 1
    assert "theme" not in set_cookies(response)
    assert "ad_id" not in set_cookies(response)


def test_two_gates_sharing_one_consent_cookie_are_told(caplog: pytest.LogCaptureFixture) -> None:
    """Gates at the same path with the same cookie name would clear each other's decision."""
    inner = ConsentMiddleware(
        Starlette(routes=[Route("/p", _page)]), policy=_policy("b"), secret_key=[SHOP_KEY]
    )
    outer = ConsentMiddleware(inner, policy=_policy("a"), secret_key=[SITE_KEY])
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        call(outer, "GET", "/p")
        call(outer, "GET", "/p")
    told = [r for r in caplog.records if "under one cookie name" in r.getMessage()]
    assert len(told) == 1
    assert "cookie_name" in told[0].getMessage()


def test_three_gates_the_innermost_governs() -> None:
    innermost = _shop(cookie_name="deep")
    middle = ConsentMiddleware(
        Starlette(routes=[Mount("/deep", app=innermost)]),
        policy=_policy("mid-1"),
        secret_key=[SHOP_KEY],
        cookie_name="mid",
        inject_banner=True,
    )
    app = _site(middle)
    accepted = _accept(app, "/shop/deep/consent")
    assert "Path=/shop/deep" in set_cookies(accepted)["deep"]
    token = set_cookies(accepted)["deep"].split(";")[0].split("=", 1)[1]
    page = call(app, "GET", "/shop/deep/p", headers={"cookie": f"deep={token}"})
    assert page.text.count('role="region"') == 0
    assert set(set_cookies(page)) == {"theme", "ad_id"}


# -- the mount's consent speaks for the mount alone ---------------------------------------------


def _token(response: Any, name: str = "cookiewall") -> str:
    value: str = set_cookies(response)[name].split(";", 1)[0].split("=", 1)[1]
    return value


def _rejected_on_the_site_accepted_in_the_shop(app: Any) -> str:
    """The Cookie header of a visitor who rejected all on the site and accepted all in the
    shop, as a browser sends it to a shop page (the longer path first)."""
    site = call(app, "POST", "/consent", json={"action": "reject_all"}, headers=ORIGIN)
    site_token = _token(site)
    shop = _accept(app, "/shop/consent", cookie=f"cookiewall={site_token}")
    return f"cookiewall={_token(shop)}; cookiewall={site_token}"


def _setting(*values: bytes) -> ASGIApp:
    """A shop app answering every request with a page that sets `values` as they are."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        headers += [(b"set-cookie", value) for value in values]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE.encode()})

    return app


def test_a_shop_cookie_for_the_whole_site_is_gated_by_the_site() -> None:
    """Starlette's `set_cookie` writes `Path=/`: the browser sends such a cookie to every page
    of the site, where this visitor refused marketing. The shop's yes cannot speak for it."""
    app = _site(_shop())
    cookie = _rejected_on_the_site_accepted_in_the_shop(app)
    page = call(app, "GET", "/shop/site-wide", headers={"cookie": cookie})
    assert page.status_code == 200
    assert "ad_id" not in set_cookies(page)
    assert "theme" not in set_cookies(page)
    # The same shop's cookies below the mount: its visitor's yes is enough.
    below = call(app, "GET", "/shop/p", headers={"cookie": cookie})
    assert {name: v.split(";")[0] for name, v in set_cookies(below).items()} == {
        "theme": "theme=dark",
        "ad_id": "ad_id=42",
    }
    assert all("Path=/shop" in v for v in set_cookies(below).values())


OUTSIDE_THE_MOUNT = [
    b"ad_id=1; Path=/",
    b"ad_id=1",  # the default path: "/" for a page at /shop itself
    b"ad_id=1; Path=/shop; Domain=testserver.example",  # every subdomain
    b"ad_id=1; Domain=testserver.example; Path=/shop/cart",
    b"ad_id=1; Path=/shop; Domain=",
    b"ad_id=1; Path=/shopping",  # not below /shop: a segment is whole
    b"ad_id=1; Path=/Shop",  # paths match case by case
    b"ad_id=1; Path=/%73hop",  # the browser matches the spelling, not what it decodes to
    b"ad_id=1; Path=/shop/%2e%2e/",
    b"ad_id=1; Path=/shop/a/../../",
    b"ad_id=1; Path=/shop; Path=/",  # the last one counts
    b"ad_id=1; Path=/; Path=/shop",  # and a browser skipping the last would take the first
    b"ad_id=1; Path=",
    b"ad_id=1; Path=shop",
    b"ad_id=1; Path=/shop/" + b"x" * 1100,  # ignored by browsers: the default path counts
]
INSIDE_THE_MOUNT = [
    b"ad_id=1; Path=/shop",
    b"ad_id=1; Path=/shop/",
    b"ad_id=1; path=/shop/cart; SameSite=lax",
    b"ad_id=1;Path = /shop ;Secure",
    b"ad_id=1; Path=/shop/caf%C3%A9",
]


@pytest.mark.parametrize("value", OUTSIDE_THE_MOUNT, ids=lambda v: v.decode()[:40])
def test_only_a_cookie_kept_for_the_mount_alone_passes_on_the_shops_word(value: bytes) -> None:
    shop = ConsentMiddleware(_setting(value), policy=_policy("shop-1"), secret_key=[SHOP_KEY])
    app = _site(shop)
    page = call(
        app, "GET", "/shop/p", headers={"cookie": _rejected_on_the_site_accepted_in_the_shop(app)}
    )
    assert page.status_code == 200
    assert page.headers.get_list("set-cookie") == []


@pytest.mark.parametrize("value", INSIDE_THE_MOUNT, ids=lambda v: v.decode())
def test_a_cookie_kept_for_the_mount_alone_passes(value: bytes) -> None:
    shop = ConsentMiddleware(_setting(value), policy=_policy("shop-1"), secret_key=[SHOP_KEY])
    app = _site(shop)
    page = call(
        app, "GET", "/shop/p", headers={"cookie": _rejected_on_the_site_accepted_in_the_shop(app)}
    )
    assert page.headers.get_list("set-cookie") == [value.decode()]


def test_a_shop_that_allows_unknown_cookies_cannot_set_them_for_the_site() -> None:
    values = (b"zzz_track=1; Path=/", b"zzz_cart=2; Path=/shop")
    shop = ConsentMiddleware(
        _setting(*values),
        policy=_policy("shop-1", unknown_cookies="allow"),
        secret_key=[SHOP_KEY],
    )
    app = _site(shop)
    page = call(
        app, "GET", "/shop/p", headers={"cookie": _rejected_on_the_site_accepted_in_the_shop(app)}
    )
    assert page.headers.get_list("set-cookie") == ["zzz_cart=2; Path=/shop"]


def test_a_mount_whose_consent_cookie_is_host_wide_still_stores_its_decision() -> None:
    """A `__Host-` consent cookie lives at Path=/ (browsers keep it nowhere else): it is the
    shop gate's own (its app cannot set it) and decides nothing for the site."""
    app = _site(_shop(cookie_name="__Host-shop"), secure=True)
    accepted = call(
        app,
        "POST",
        "https://testserver/shop/consent",
        json={"action": "accept_all"},
        headers={"origin": "https://testserver"},
    )
    stored = set_cookies(accepted)["__Host-shop"]
    assert "Path=/;" in stored + ";"
    assert "Max-Age=0" not in stored


# -- a page put in place of the shop's answer ---------------------------------------------------


class _SpaFallback:
    """A site layer between the gates that answers the app shell for any 404 (an SPA)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replaced = False

        async def send_or_replace(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 404:
                replaced = True
                headers = [(b"content-type", b"text/html; charset=utf-8")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": PAGE.encode()})
            elif not replaced:
                await send(message)

        await self.app(scope, receive, send_or_replace)


class _AddsHeader:
    """A site layer between the gates that adds a header to every answer (a new list)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_more(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-frame-options", b"DENY")]
            await send(message)

        await self.app(scope, receive, send_more)


def test_a_page_a_site_layer_puts_in_place_of_the_shops_answer_is_the_sites() -> None:
    app = _site(_shop(), layers=(Middleware(_SpaFallback),))
    outside = call(app, "GET", "/nowhere")
    under = call(app, "GET", "/shop/nowhere")
    for page in (outside, under):
        assert page.status_code == 200
        assert _banner_forms(page) == {"/consent"}
        assert page.text.count('role="region"') == 1
        assert page.headers["cache-control"] == "private, no-cache"


def test_the_shops_page_with_a_header_a_site_layer_added_is_still_the_shops() -> None:
    app = _site(_shop(), layers=(Middleware(_AddsHeader),))
    page = call(app, "GET", "/shop/p")
    assert page.headers["x-frame-options"] == "DENY"
    assert _banner_forms(page) == {"/shop/consent"}
    assert page.text.count('role="region"') == 1


# -- one cookie name for both gates -------------------------------------------------------------


def test_a_withdrawal_in_the_shop_leaves_the_sites_decision(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _site(_shop())  # the README's shop keeps the default cookie name, like the site
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        site_token = _token(_accept(app, "/consent"))
        shop_token = _token(_accept(app, "/shop/consent", cookie=f"cookiewall={site_token}"))
        withdrawn = call(
            app,
            "DELETE",
            "/shop/consent",
            headers={**ORIGIN, "cookie": f"cookiewall={shop_token}; cookiewall={site_token}"},
        )
    assert withdrawn.status_code == 200
    ends = [h for h in withdrawn.headers.get_list("set-cookie") if h.startswith("cookiewall=")]
    assert ends  # the shop's own decision ends, below the mount
    for header in ends:
        assert "Max-Age=0" in header
        assert re.search(r"; Path=/shop(/[^;]*)?(;|$)", header), header
        assert "Domain=" not in header
    told = [r for r in caplog.records if "under one cookie name" in r.getMessage()]
    assert len(told) == 1  # the paths differ (/shop, /): said all the same, once


def test_under_its_own_cookie_name_the_mount_is_not_told_anything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _site(_shop(cookie_name="shopconsent"))
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        _accept(app, "/shop/consent")
        call(app, "GET", "/shop/p")
    assert not [r for r in caplog.records if "under one cookie name" in r.getMessage()]


# -- the site's recorder counts with the site's decision ----------------------------------------


def test_the_sites_recorder_records_a_shop_page_with_the_sites_consent(tmp_path: Path) -> None:
    from analytics import Recorder, TrafficMiddleware
    from tests.recording_support import spooled

    recorder = Recorder(tmp_path / "spool", "example.com")
    try:
        analytics = Category("analytics", description="Counting.")
        site_policy = _policy("site-1", categories=[*_policy("x").categories, analytics])
        app = _site(
            _shop(),
            layers=(Middleware(TrafficMiddleware, recorder=recorder),),
            policy=site_policy,
        )
        cookie = _rejected_on_the_site_accepted_in_the_shop(app)
        browser = {"accept": "text/html", "user-agent": "Mozilla/5.0 (X11; Linux) Firefox/133.0"}
        assert call(app, "GET", "/shop/p", headers={**browser, "cookie": cookie}).status_code == 200
        site_only = cookie.split("; ")[1]
        assert call(app, "GET", "/p", headers={**browser, "cookie": site_only}).status_code == 200
        rows = {row["path"]: (row["consent"], row["visitor_id"]) for row in spooled(recorder)}
    finally:
        recorder.close()
    # Analytics declined on the site: no visitor hash, on the shop's pages too.
    assert rows == {"/shop/p": ("none", None), "/p": ("none", None)}


def test_the_shops_app_keeps_the_shops_consent_after_its_answer_starts() -> None:
    """The site's decision is in the state only while the start passes the site's layers."""
    seen: list[tuple[str, str]] = []

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        seen.append((state["consent"].policy_version, state["cookiewall.gate"].cookie_name))
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        seen.append((state["consent"].policy_version, state["cookiewall.gate"].cookie_name))
        await send({"type": "http.response.body", "body": b"ok"})

    shop = ConsentMiddleware(
        streaming, policy=_policy("shop-1"), secret_key=[SHOP_KEY], cookie_name="shopconsent"
    )
    app = _site(shop)
    site_token = _token(_accept(app, "/consent"))
    shop_token = _token(_accept(app, "/shop/consent"), "shopconsent")
    cookie = f"shopconsent={shop_token}; cookiewall={site_token}"
    seen.clear()
    assert call(app, "GET", "/shop/x", headers={"cookie": cookie}).status_code == 200
    assert seen == [("shop-1", "shopconsent"), ("shop-1", "shopconsent")]
