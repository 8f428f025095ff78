"""The dashboard and the cookie list on a phone and at 400 % zoom, in Debian's Chromium, checked
by axe-core (axe-playwright-python, a dev dependency) and by hand where axe cannot judge:

* the dashboard at 375 CSS px: its tables scroll sideways in boxes a keyboard reaches (Tab) and
  scrolls (arrow keys), each a region named by its heading (WCAG 2.1.1); before, the sections
  scrolled but took no focus (axe `scrollable-region-focusable`);
* the cookie list opened as a page at 320 CSS px, also with WCAG 1.4.12 text spacing: the page is
  no wider than the screen, only its table scrolls, in a focusable named box (WCAG 1.4.10);
  before, the whole page panned sideways, 69 px (165 px with the spacing);
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser_support import (
    DASHBOARD_LOGIN,
    ax_nodes,
    ax_value,
    axe_violations,
    dashboard_site_serving,
    example_site_serving,
    visitor_page,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 667}
ZOOM_400 = {"width": 320, "height": 256}  # 1280 x 1024 at 400 %
# WCAG 1.4.12's text spacing, as the W3C's bookmarklet applies it.
TEXT_SPACING = (
    "* { line-height: 1.5 !important; letter-spacing: .12em !important;"
    " word-spacing: .16em !important; }"
    " p { margin-bottom: 2em !important; }"
)
COOKIE_LIST = "/consent/cookies?format=html"


SCROLLERS = """() => [...document.querySelectorAll('main *')]
    .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)
                 && e.scrollWidth > e.clientWidth + 1 && e.getClientRects().length)
    .map(e => ({tag: e.tagName, tabIndex: e.tabIndex, role: e.getAttribute('role'),
                labelledby: e.getAttribute('aria-labelledby')}))"""


def tab_to(page: Page, selector: str, limit: int = 80) -> bool:
    """Press Tab from the top until the element `selector` matches has focus."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return True
    return False


def scrolls_by_keyboard(page: Page, selector: str) -> bool:
    assert tab_to(page, selector), f"Tab never reaches {selector}"
    assert page.eval_on_selector(selector, "e => e.scrollLeft") == 0
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    # Chromium scrolls smoothly: the box moves over the next frames. (No wait_for_function:
    # the pages' CSP refuses the eval it needs.)
    for _ in range(60):
        if page.eval_on_selector(selector, "e => e.scrollLeft") > 0:
            return True
        page.wait_for_timeout(50)
    return False


# -- the dashboard ---------------------------------------------------------------------------


dashboard_site = dashboard_site_serving(per_day=40)
OVERVIEW = "/analytics/?from=2026-03-01&to=2026-04-30"


# The dashboard has no script (its CSP allows none): JavaScript on or off is the same page,
# and axe itself needs it.
def test_the_dashboard_on_a_phone_has_no_violation(dashboard_site: str, browser: Browser) -> None:
    with visitor_page(browser, viewport=PHONE, http_credentials=DASHBOARD_LOGIN) as page:
        page.goto(dashboard_site + OVERVIEW)
        assert page.evaluate(SCROLLERS)  # the phone does make tables scroll sideways
        assert axe_violations(page) == []
        page.locator("#referrers a[href*='referrer=']").first.click()
        page.wait_for_load_state()
        assert "referrer=" in page.url
        assert axe_violations(page) == []


def test_a_keyboard_reaches_and_scrolls_every_wide_table_on_a_phone(
    dashboard_site: str, browser: Browser
) -> None:
    with visitor_page(browser, viewport=PHONE, http_credentials=DASHBOARD_LOGIN) as page:
        page.goto(dashboard_site + OVERVIEW)
        page.locator("details summary").click()  # the chart's table, opened
        scrollers = page.evaluate(SCROLLERS)
        assert len(scrollers) >= 2, scrollers
        for box in scrollers:
            assert box["tabIndex"] == 0, box
            assert box["role"] == "region", box
            assert box["labelledby"], box
        page.evaluate(
            """() => document.querySelectorAll('main *').forEach((e, i) => {
                if (['auto', 'scroll'].includes(getComputedStyle(e).overflowX)
                    && e.scrollWidth > e.clientWidth + 1) e.dataset.wide = i; })"""
        )
        wide = page.eval_on_selector_all("[data-wide]", "es => es.map(e => e.dataset.wide)")
        for index in wide:
            where = page.eval_on_selector(
                f'[data-wide="{index}"]',
                "e => e.outerHTML.slice(0, 150) + ' ' + e.scrollWidth + '>' + e.clientWidth",
            )
            assert scrolls_by_keyboard(page, f'[data-wide="{index}"]'), where
            # Focus is shown: a 3 px outline, not the browser's faint default or nothing.
            outline = page.evaluate(
                "getComputedStyle(document.activeElement).outlineWidth"
                " + ' ' + getComputedStyle(document.activeElement).outlineStyle"
            )
            assert outline == "3px solid", outline
        # A screen reader names each box by its heading.
        names = {
            ax_value(node, "name") for node in ax_nodes(page) if ax_value(node, "role") == "region"
        }
        assert {"Sources", "Pages", "Campaigns"} <= names, names


def test_the_chart_is_described_by_its_table_of_numbers(
    dashboard_site: str, browser: Browser
) -> None:
    with visitor_page(browser, http_credentials=DASHBOARD_LOGIN) as page:
        page.goto(dashboard_site + "/analytics/?from=2026-04-01&to=2026-04-03&compare=1")
        charts = [
            node
            for node in ax_nodes(page)
            if ax_value(node, "name") == "Pageviews and visitors per day"
            and ax_value(node, "role") == "image"
        ]
        assert charts
        description = ax_value(charts[0], "description")
        rows = page.locator("#chart-data tbody tr")
        assert rows.count() == 3
        for row in rows.all():  # each day and its four numbers reach a screen reader
            for cell in row.locator("th, td").all_inner_texts():
                assert cell.strip() in description
        assert not page.locator("#chart-data").is_visible()  # folded until asked for
        page.get_by_text("the numbers as a table").click()
        assert page.locator("#chart-data").is_visible()


# -- the cookie list and the banner ----------------------------------------------------------

site = example_site_serving("a11y-phone-test-secret-key-0123")


@pytest.mark.parametrize("viewport", [PHONE, ZOOM_400], ids=["375px", "320px"])
def test_the_cookie_list_on_a_phone_has_no_violation(
    site: str, browser: Browser, viewport: dict[str, int]
) -> None:
    with visitor_page(browser, viewport=viewport) as page:
        page.goto(site + COOKIE_LIST)
        assert axe_violations(page) == []


@pytest.mark.parametrize("spacing", [False, True], ids=["plain", "text-spacing"])
def test_the_cookie_list_at_400_percent_scrolls_only_its_table(
    site: str, browser: Browser, spacing: bool
) -> None:
    # bypass_csp: the example site's `default-src 'self'` would refuse the text spacing sheet
    # (a visitor's extension or user style is not bound by it).
    with visitor_page(browser, viewport=ZOOM_400, bypass_csp=True) as page:
        page.goto(site + COOKIE_LIST)
        if spacing:
            page.add_style_tag(content=TEXT_SPACING)
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"the page is {widths[0] - widths[1]} px too wide"
        table = page.locator("table.cookiewall-declaration")
        assert table.evaluate("t => t.scrollWidth") > ZOOM_400["width"]  # the table is wide
        box = "[role=region]:has(> table.cookiewall-declaration)"
        assert scrolls_by_keyboard(page, box)
        caption = table.locator("caption").inner_text()
        names = [
            ax_value(node, "name") for node in ax_nodes(page) if ax_value(node, "role") == "region"
        ]
        assert caption in names, names
