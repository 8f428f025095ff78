"""What the browser tests (tests/test_browser_*.py) share: the gate around a module's own pages,
the `site` fixture that serves them (or the example site, or the dashboard) with uvicorn on
127.0.0.1, an app factory served with its spool, a context of the browser closed after the test,
axe's verdict on a page, a watch on the decisions a page sends, and the visitor's own text size
setting. The browser itself is tests/conftest.py's `browser` fixture, which skips (or fails,
under COOKIEWALL_REQUIRE_BROWSER=1) without Chromium.

A module keeps its own policy, pages and secret key; it names its `site` with

    site = site_serving("tests.test_browser_banner_gpc:app")

Assigned, not imported: a fixture imported into a module and then used as a test's argument
is a redefinition to ruff (F811).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from cookiewall import ConsentMiddleware, Policy
from tests.dashboard_support import PASSWORD, USER, build_warehouse
from tests.support import StrictCSP, uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

EXAMPLE_APP = "examples.starlette_app:app"

# A person's Chromium (on Linux): Playwright's own user agent says HeadlessChrome, which is a bot.
PERSONS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)

# Chromium's default text size ("standard" font size): what `font-size: medium` is.
DEFAULT_TEXT_PX = 16


def wait_until(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Wait for the JavaScript `expression` to hold in `page`, polled from the test.

    Playwright's `wait_for_function` with a string polls by evaluating it inside the page,
    which a strict CSP (no 'unsafe-eval') or Trusted Types refuse as soon as the first check
    is false: such a wait failed at random, depending on whether the page was already there.
    `page.evaluate` runs through the debugger protocol, which no page policy governs."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(50)


def gated_pages(routes: Sequence[BaseRoute], *, policy: Policy, secret_key: str) -> ASGIApp:
    """`routes` behind the gate with the banner injected, under a strict CSP (`default-src
    'self'`): whatever the banner does in the browser, it must do without inline code."""
    return StrictCSP(
        ConsentMiddleware(
            Starlette(routes=list(routes)),
            policy=policy,
            secret_key=secret_key,
            inject_banner=True,
        )
    )


def site_serving(app: str) -> Callable[[], Iterator[str]]:
    """A module-scoped `site` fixture: the base URL of uvicorn serving `app` ("module:name";
    uvicorn imports the test module by that name, in a process of its own)."""

    @pytest.fixture(scope="module", name="site")
    def site() -> Iterator[str]:
        with uvicorn_server(app) as (base_url, _):
            yield base_url

    return site


def example_site_serving(secret_key: str) -> Callable[[pytest.TempPathFactory], Iterator[str]]:
    """A module-scoped `site` fixture: the example site (examples/starlette_app.py, strict CSP)
    under uvicorn, with `secret_key` and a var folder of its own."""

    @pytest.fixture(scope="module", name="site")
    def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        var = tmp_path_factory.mktemp("example-var")
        env = {"COOKIEWALL_VAR": str(var), "COOKIEWALL_SECRET": secret_key}
        with uvicorn_server(EXAMPLE_APP, env=env) as (base_url, _):
            yield base_url

    return site


# `http_credentials` for a context that opens `dashboard_site` (its HTTP Basic login).
DASHBOARD_LOGIN = {"username": USER, "password": PASSWORD}


def dashboard_site_serving(
    per_day: int = 40, factory: str = "create_app"
) -> Callable[[pytest.TempPathFactory], Iterator[str]]:
    """A module-scoped `dashboard_site` fixture: the dashboard (tests/apps/dashboard_app.py's
    `factory`, behind DASHBOARD_LOGIN) under uvicorn, over a warehouse of its own with
    `per_day` pageviews a day (`build_warehouse`)."""

    @pytest.fixture(scope="module", name="dashboard_site")
    def dashboard_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        db = build_warehouse(tmp_path_factory.mktemp("dashboard"), per_day=per_day)
        env = {"DASHBOARD_DB": str(db), "DASHBOARD_USER": USER, "DASHBOARD_PASSWORD": PASSWORD}
        app = f"tests.apps.dashboard_app:{factory}"
        with uvicorn_server(app, env=env, factory=True) as (base_url, _):
            yield base_url

    return dashboard_site


@contextmanager
def spooling_server(factory: str, spool_variable: str, spool: Path, **env: str) -> Iterator[str]:
    """uvicorn serving what the app factory `factory` ("module:make_app", uvicorn `--factory`)
    makes, told by the environment variable `spool_variable` to spool to `spool` (and given
    `env`); yield its base URL. On exit the server stops gracefully: its recorder has flushed
    `spool`, ready for the warehouse."""
    with uvicorn_server(factory, env={spool_variable: str(spool), **env}, factory=True) as (
        base_url,
        _,
    ):
        yield base_url


@contextmanager
def browser_context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    """A new context of `browser` (`options` as Playwright's `new_context` takes them): one
    visitor, with cookies and a cache of its own, closed on exit whatever the test did."""
    context = browser.new_context(**options)
    try:
        yield context
    finally:
        context.close()


@contextmanager
def visitor_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in a `browser_context` of its own (`options` for the context), closed on exit."""
    with browser_context(browser, **options) as context:
        yield context.new_page()


def ax_nodes(page: Page) -> list[dict[str, Any]]:
    """Chromium's own accessibility tree (names and descriptions as a screen reader gets them)."""
    session = page.context.new_cdp_session(page)
    try:
        nodes: list[dict[str, Any]] = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    return nodes


def ax_value(node: dict[str, Any], key: str) -> str:
    """A property (`name`, `role`, `description`) of an `ax_nodes` node, "" when it has none."""
    return str(node.get(key, {}).get("value", ""))


def axe_violations(page: Page) -> list[tuple[str, str, list[str]]]:
    """axe's violations on the loaded page: (rule, impact, the offending elements)."""
    from axe_playwright_python.sync_playwright import Axe  # a dev dependency, browser tests only

    found: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [(v["id"], v["impact"], [n["html"][:120] for n in v["nodes"]]) for v in found]


def watch_decisions(page: Page) -> list[str]:
    """Before the page is opened: collect in `window.__decided` the categories granted by each
    `cookiewall:decided` event; return the URLs of the POSTs the page sends, as they come."""
    page.add_init_script(
        "window.__decided = [];"
        "document.addEventListener('cookiewall:decided',"
        " e => window.__decided.push(e.detail.granted.join(' ')));"
    )
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    return posts


def set_text_size(page: Page, percent: int) -> int:
    """Before the page is opened: the visitor's text size setting (Chromium's Settings >
    Appearance > Font size) at `percent` of the default, through CDP `Page.setFontSizes`;
    return it in px. This is what large text means for the banner: it is sized in em from its
    own `font-size: medium`, so a page's root font size (`html.style.fontSize`) leaves it as
    it is. The setting lasts for the page, across its navigations."""
    size = round(DEFAULT_TEXT_PX * percent / 100)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.enable")
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": size}})
    return size


def banner_text_size(page: Page) -> str:
    """The computed font size of the banner's root, e.g. "32px": whether a text size setting
    reached the banner at all."""
    return str(
        page.evaluate("getComputedStyle(document.querySelector('[data-cookiewall]')).fontSize")
    )


def assert_banner_runs_under_the_pages_policy(
    browser: Browser, site: str, path: str, *, own_script: bool = True, **context_options: Any
) -> None:
    """The page at `path` (whose own inline script sets `window.ownScriptRan`, allowed by its
    CSP, unless not `own_script`) gets the banner, and banner.js and banner.css run under that
    CSP: no violation is reported, banner.js moved the banner first and measured the room it
    keeps, the stylesheet applied, and "Reject all" decides by fetch without leaving the page.
    `context_options`: for the browser context (Playwright's `new_context`)."""
    context = browser.new_context(**context_options)
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(f"{site}{path}")
        page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
        if own_script:
            assert page.evaluate("window.ownScriptRan") is True  # the page's policy is in force
        state = page.evaluate(
            """() => {
              const banner = document.querySelector("[data-cookiewall]");
              return {
                first: document.body.firstElementChild === banner,
                room: document.documentElement.style.getPropertyValue("--cookiewall-height"),
                position: getComputedStyle(banner).position,
              };
            }"""
        )
        # banner.js ran: the banner leads the page for Tab and the room kept is measured.
        assert state["first"] is True
        assert state["room"].endswith("px")
        assert state["position"] == "fixed"  # the stylesheet applied
        assert violations == []
        page.locator("[data-cookiewall] button[value=reject_all]").click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        assert page.url == f"{site}{path}"  # decided by fetch, without leaving
        assert context.request.get(f"{site}/consent").json()["granted"] == ["necessary"]
    finally:
        context.close()
