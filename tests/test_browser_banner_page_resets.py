"""The banner on pages styled by the resets and frameworks real sites use, in Debian's Chromium:
Tailwind's preflight, Bootstrap 5's reboot (light and dark), normalize.css, an `all: unset`
reset, unstyled buttons, custom-checkbox sites that hide the native box, and pages that remove
focus outlines. On each: the banner's text is readable (axe's contrast check), its checkboxes
are visible and take Tab and Space, focus shows, and the choice is saved, by keyboard with
JavaScript and by pointer without.

The rules below are hand-written: each reproduces the part of the real reset that reaches the
banner's elements (headings, paragraphs, links, buttons, inputs, fieldset, legend, summary).
Pages link their stylesheet (the pages run under a strict CSP: no inline <style>).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1024, "height": 700}

POLICY = Policy(
    version="resets-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        Category("analytics", description="Visit counts, kept for a year."),
    ],
)

RESETS = {
    # Tailwind CSS v3 preflight: borders zeroed on everything, headings and links inherit,
    # buttons transparent.
    "tailwind": """
*, ::before, ::after { box-sizing: border-box; border-width: 0; border-style: solid;
  border-color: #e5e7eb; }
html { line-height: 1.5; font-family: ui-sans-serif, system-ui, sans-serif; }
body { margin: 0; line-height: inherit; }
h1, h2, h3 { font-size: inherit; font-weight: inherit; }
a { color: inherit; text-decoration: inherit; }
button, input { font-family: inherit; font-size: 100%; font-weight: inherit;
  line-height: inherit; color: inherit; margin: 0; padding: 0; }
button, [type='button'], [type='submit'] { -webkit-appearance: button;
  background-color: transparent; background-image: none; }
summary { display: list-item; }
h1, h2, h3, p { margin: 0; }
fieldset { margin: 0; padding: 0; }
legend { padding: 0; }
[hidden] { display: none; }
""",
    # Bootstrap 5.3 reboot, light: a floated legend in rem and vw, headings at weight 500.
    "bootstrap": """
*, ::after, ::before { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, sans-serif; font-size: 1rem; line-height: 1.5;
  color: #212529; background-color: #fff; }
h1, h2, h3 { margin-top: 0; margin-bottom: .5rem; font-weight: 500; line-height: 1.2; }
h2 { font-size: calc(1.325rem + .9vw); }
p { margin-top: 0; margin-bottom: 1rem; }
a { color: rgba(13, 110, 253, 1); text-decoration: underline; }
label { display: inline-block; }
button { border-radius: 0; }
button:focus:not(:focus-visible) { outline: 0; }
button, input { margin: 0; font-family: inherit; font-size: inherit; line-height: inherit; }
fieldset { min-width: 0; padding: 0; margin: 0; border: 0; }
legend { float: left; width: 100%; padding: 0; margin-bottom: .5rem;
  font-size: calc(1.275rem + .3vw); line-height: inherit; }
legend + * { clear: left; }
summary { display: list-item; cursor: pointer; }
[hidden] { display: none !important; }
""",
    # Bootstrap 5.3 with data-bs-theme="dark" on <html>, and any hand-made dark site: light
    # text and links meant for a dark page.
    "dark-site": """
body { margin: 0; color: #dee2e6; background-color: #212529; }
h1, h2, h3, h4 { color: #fff; }
p, label, legend, summary, strong, span { color: #dee2e6; }
a { color: #6ea8fe; }
""",
    # normalize.css v8.
    "normalize": """
html { line-height: 1.15; -webkit-text-size-adjust: 100%; }
body { margin: 0; }
h1 { font-size: 2em; margin: 0.67em 0; }
a { background-color: transparent; }
button, input { font-family: inherit; font-size: 100%; line-height: 1.15; margin: 0;
  overflow: visible; }
button, [type="submit"] { -webkit-appearance: button; }
fieldset { padding: 0.35em 0.75em 0.625em; }
legend { box-sizing: border-box; color: inherit; display: table; max-width: 100%;
  padding: 0; white-space: normal; }
[type="checkbox"] { box-sizing: border-box; padding: 0; }
summary { display: list-item; }
[hidden] { display: none; }
""",
    # "The new CSS reset" (elad2412): every element but replaced ones unset, display kept.
    "all-unset": """
*:where(:not(html, iframe, canvas, img, svg, video, audio):not(svg *, symbol *)) {
  all: unset; display: revert; }
*, *::before, *::after { box-sizing: border-box; }
a, button { cursor: revert; }
:where([hidden]) { display: none; }
body { font-family: system-ui, sans-serif; }
""",
    # Unstyled buttons: a site that draws every button itself, from classes of its own.
    "bare-buttons": """
button { appearance: none; background: none; border: none; padding: 0; color: inherit;
  font: inherit; }
""",
    # Custom checkboxes: the native box hidden, a drawing on the site's own label class.
    "hidden-checkbox": """
input[type=checkbox] { display: none; }
""",
    "invisible-checkbox": """
input[type="checkbox"] { position: absolute; opacity: 0; width: 0; height: 0; }
""",
    # Focus outlines removed everywhere ("it looked ugly on click").
    "no-outline": """
:focus { outline: none; }
a:focus, button:focus, input:focus, summary:focus { outline: 0; }
""",
}


async def _page(request: Request) -> HTMLResponse:
    name = request.path_params["name"]
    theme = ' data-bs-theme="dark"' if name == "dark-site" else ""
    return HTMLResponse(
        f'<!doctype html><html lang="en"{theme}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/css/{name}.css"><title>{name}</title></head>'
        f'<body><main><h1>A page styled by {name}</h1><p><a href="/">A link of the page</a></p>'
        "<p>Words of the page.</p></main></body></html>"
    )


async def _css(request: Request) -> Response:
    return Response(RESETS[request.path_params["name"]], media_type="text/css")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{name}", _page), Route("/css/{name}.css", _css)],
    policy=POLICY,
    secret_key="page-resets-test-secret-key-01",
)

site = site_serving("tests.test_browser_banner_page_resets:app")


def _open(browser: Browser, url: str, **options: Any) -> tuple[BrowserContext, Page]:
    options.setdefault("viewport", VIEWPORT)
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(url)
    page.wait_for_load_state("load")
    return context, page


def _axe(page: Page, rules: list[str]) -> list[tuple[str, list[str]]]:
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "rule", "values": rules}, "resultTypes": ["violations"]}
    found: list[dict[str, Any]] = (
        Axe().run(page, "[data-cookiewall]", options).response["violations"]
    )
    return [(v["id"], [n["html"][:80] for n in v["nodes"]]) for v in found]


# Each control of the banner: is it drawn (a box of its own, not transparent), and is the
# point at its centre the control itself (not the page over it)?
_CONTROLS = """() => [...document.querySelectorAll(
    '[data-cookiewall] button:not(.cookiewall-implicit), [data-cookiewall] input[type=checkbox],'
    + ' [data-cookiewall] summary, [data-cookiewall] a')].map(e => {
  e.scrollIntoView({block: 'nearest'});  // the capped banner scrolls
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return {what: e.tagName + ' ' + (e.value || e.textContent.trim().slice(0, 20)),
          width: r.width, height: r.height, opacity: s.opacity, visibility: s.visibility,
          appearance: s.appearance, hit: !!hit && (hit === e || e.contains(hit))};
})"""


def _drawn(control: dict[str, Any]) -> bool:
    if control["width"] < 10 or control["height"] < 10:
        return False
    if control["opacity"] != "1" or control["visibility"] != "visible" or not control["hit"]:
        return False
    # A checkbox without its native look is an empty box of nothing.
    return not (control["what"].startswith("INPUT") and control["appearance"] == "none")


_FOCUS = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  return {tag: e.tagName, value: e.value || '', inBanner: !!e.closest('[data-cookiewall]'),
          outline: s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth), checked: e.checked};
}"""


def _tab_to(page: Page, tag: str, value: str = "") -> dict[str, Any]:
    """Tab from where focus is until it is on the banner's `tag` (of `value`)."""
    for _ in range(20):
        page.keyboard.press("Tab")
        focus: dict[str, Any] = page.evaluate(_FOCUS)
        if focus["inBanner"] and focus["tag"] == tag and (not value or focus["value"] == value):
            return focus
    raise AssertionError(f"Tab never reached the banner's {tag} {value}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("reset", list(RESETS))
def test_the_banner_is_readable_on_the_page(
    site: str, browser: Browser, reset: str, scheme: str
) -> None:
    # A dark site's `h2 { color: #fff }` and `a { color: #6ea8fe }` reached the banner's
    # title and link, on the banner's own white.
    context, page = _open(browser, f"{site}/page/{reset}", color_scheme=scheme)
    try:
        page.locator("[data-cookiewall] summary").click()
        assert _axe(page, ["color-contrast", "link-in-text-block"]) == []
    finally:
        context.close()


@pytest.mark.parametrize("reset", list(RESETS))
def test_every_control_is_drawn_and_not_covered(site: str, browser: Browser, reset: str) -> None:
    context, page = _open(browser, f"{site}/page/{reset}")
    try:
        page.locator("[data-cookiewall] summary").click()
        controls = page.evaluate(_CONTROLS)
        assert len(controls) == 8  # 3 buttons, 3 boxes, summary, link
        assert [c for c in controls if not _drawn(c)] == [], controls
    finally:
        context.close()


@pytest.mark.parametrize("reset", list(RESETS))
def test_a_keyboard_alone_ticks_a_box_and_saves_the_choice(
    site: str, browser: Browser, reset: str
) -> None:
    # A site hiding native checkboxes (display: none) took them out of the Tab order: the
    # categories could not be chosen without a pointer.
    context, page = _open(browser, f"{site}/page/{reset}")
    try:
        summary = _tab_to(page, "SUMMARY")
        assert summary["outline"] >= 2, summary  # focus shows, whatever the page's :focus
        page.keyboard.press("Enter")
        box = _tab_to(page, "INPUT", "preferences")
        assert box["outline"] >= 2, box
        assert box["checked"] is False
        page.keyboard.press("Space")
        assert page.evaluate(_FOCUS)["checked"] is True
        save = _tab_to(page, "BUTTON", "save")
        assert save["outline"] >= 2, save
        page.keyboard.press("Enter")
        page.locator("[data-cookiewall]").wait_for(state="detached")
        granted = context.request.get(f"{site}/consent").json()["granted"]
        assert sorted(granted) == ["necessary", "preferences"]
    finally:
        context.close()


@pytest.mark.parametrize("reset", list(RESETS))
def test_without_javascript_a_pointer_ticks_a_box_and_saves_the_choice(
    site: str, browser: Browser, reset: str
) -> None:
    context, page = _open(browser, f"{site}/page/{reset}", java_script_enabled=False)
    try:
        banner = page.locator("[data-cookiewall]")
        banner.locator("summary").click()
        banner.get_by_text("Analytics", exact=True).click()
        assert banner.get_by_role("checkbox", name="Analytics").is_checked()
        with page.expect_navigation():
            banner.get_by_role("button", name="Save choices").click()
        assert page.url == f"{site}/page/{reset}"
        assert page.locator("[data-cookiewall]").count() == 0
        granted = context.request.get(f"{site}/consent").json()["granted"]
        assert sorted(granted) == ["analytics", "necessary"]
    finally:
        context.close()
