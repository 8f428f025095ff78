"""The dashboard mounted inside the consent gate, as the README mounts it (the site's router
inside `ConsentMiddleware` with `inject_banner=True`), in Debian's Chromium.

An analyst who has not decided gets the banner on the dashboard's pages, and the pages' own
`Content-Security-Policy` (`default-src 'none'`) blocked the banner's script: a CSP error in
the console on every page, and the banner left after every control of the page. The pages now
allow banner.js by its hash, and nothing else: an inline script or any other external one
stays blocked. A dashboard outside the gate (tests/apps/dashboard_app.py serves one beside it,
at /alone/analytics) runs no script at all, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cookiewall.banner import SCRIPT_HASH_SOURCE, SCRIPT_INTEGRITY
from tests.browser_support import (
    DASHBOARD_LOGIN,
    assert_banner_runs_under_the_pages_policy,
    axe_violations,
    browser_context,
    dashboard_site_serving,
)
from tests.dashboard_support import TINY_REFERRER

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = pytest.mark.browser

dashboard_site = dashboard_site_serving(factory="create_gated_app")

APRIL = "from=2026-04-01&to=2026-04-30"
PAGES = {
    "overview": f"/analytics/?{APRIL}",
    "referrer": f"/analytics/referrer?referrer={TINY_REFERRER}&{APRIL}",
}
HEADER_BACKGROUND = "rgb(29, 53, 87)"  # dashboard.css's `header`: the dashboard's stylesheet


def _csp_violations(page: Page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return violations


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_banner_runs_on_the_dashboards_pages(
    browser: Browser, dashboard_site: str, path: str
) -> None:
    assert_banner_runs_under_the_pages_policy(
        browser, dashboard_site, path, own_script=False, http_credentials=DASHBOARD_LOGIN
    )


def test_dashboard_works_beside_the_banner(browser: Browser, dashboard_site: str) -> None:
    """Charts, tables and the picker work while the banner is up, and both stylesheets apply."""
    with browser_context(browser, http_credentials=DASHBOARD_LOGIN) as context:
        page = context.new_page()
        violations = _csp_violations(page)
        page.goto(f"{dashboard_site}{PAGES['overview']}")
        assert page.locator("[data-cookiewall]").is_visible()
        assert page.locator("svg.cw-chart:visible").count() == 1
        assert page.locator("section#referrers tbody tr").count() >= 3
        header = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
        assert header == HEADER_BACKGROUND
        page.select_option('select[name="grain"]', "week")
        page.click('form.picker button[type="submit"]')
        page.wait_for_load_state("load")
        assert "grain=week" in page.url
        assert page.locator('select[name="grain"] option[selected]').inner_text() == "week"
        assert page.locator("[data-cookiewall]").is_visible()  # still undecided
        assert axe_violations(page) == []
        assert violations == []


def test_no_other_script_runs_on_the_dashboards_pages(
    browser: Browser, dashboard_site: str
) -> None:
    """The policy allows banner.js by its hash alone: scripts that markup slipped into a page
    might add (inline, banner.js without its integrity, another file of the site, a script
    that claims banner.js's integrity) stay blocked, while the gate's own tag runs."""
    url = f"{dashboard_site}{PAGES['overview']}"
    slipped_in = (
        "<script>window.inlineRan = true;</script>"
        '<script src="/consent/static/banner.js"></script>'
        '<script src="/analytics/static/dashboard.css"></script>'
        '<script src="data:text/javascript,window.dataRan=true" '
        f'integrity="{SCRIPT_INTEGRITY}"></script>'
    )

    def add_scripts(route: Route) -> None:
        response = route.fetch()  # the dashboard's own answer, its policy included
        body = response.text().replace("</main>", f"</main>{slipped_in}")
        route.fulfill(response=response, body=body)

    with browser_context(browser, http_credentials=DASHBOARD_LOGIN) as context:
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
        page.route(url, add_scripts)
        response = page.goto(url)
        assert response is not None
        policy = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == SCRIPT_HASH_SOURCE  # the hash, nothing beside it
        assert directives["connect-src"] == "'self'"  # banner.js posts the choice here only
        assert directives["default-src"] == "'none'"
        page.wait_for_load_state("load")
        assert page.evaluate("[window.inlineRan, window.dataRan]") == [None, None]
        # banner.js ran once, from the gate's tag: it moved the banner first.
        assert page.evaluate("document.body.firstElementChild.hasAttribute('data-cookiewall')")
        # Three refused by the policy; the script that claims banner.js's hash passes the
        # policy and is refused by its integrity check, as a copy of any other bytes would be.
        refused = [m for m in messages if "violates the following Content Security Policy" in m]
        assert len(refused) == 3, messages
        assert sum("Failed to find a valid digest in the 'integrity'" in m for m in messages) == 1
        assert len(messages) == 4, messages


def test_dashboard_outside_the_gate_runs_no_script(browser: Browser, dashboard_site: str) -> None:
    with browser_context(browser, http_credentials=DASHBOARD_LOGIN) as context:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{dashboard_site}/alone{PAGES['overview']}")
        assert page.locator("script, [data-cookiewall]").count() == 0
        assert page.locator("svg.cw-chart:visible").count() == 1
        header = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
        assert header == HEADER_BACKGROUND
        assert errors == []
