"""In Chromium: after "accept all", taking marketing back removes `ad_id` from the browser,
although its rule says `path="/shop"` (the README's policy) and the app set it at Path=/ (the
default of Starlette's and FastAPI's `set_cookie`).

Found in a walkthrough: the withdrawal expired `ad_id` at /shop only, and Chromium kept its
copy at /, so the visitor who withdrew still sent the marketing cookie on every page. The
in-process checks of the same are in
tests/test_withdrawal_reaches_cookies_where_the_browser_keeps_them.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser_support import browser_context, site_serving
from tests.test_cookiewall_support import make_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

app = make_app()  # its "/" sets session, theme, _ga_123, ad_id (and an undeclared one)
site = site_serving(
    "tests.test_browser_withdrawal_reaches_cookies_where_the_browser_keeps_them:app"
)

DECIDE = """action => fetch("/consent", {method: "POST", headers: {"content-type":
  "application/json"}, body: JSON.stringify({action})}).then(r => r.status)"""
POST_FORM = """action => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = "/consent";
  for (const [name, value] of [["action", action], ["next", "/state"]]) {
    const input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}"""


def _take_marketing_back(page: Page, how: str) -> None:
    if how == "delete":
        status = page.evaluate("""fetch("/consent", {method: "DELETE"}).then(r => r.status)""")
        assert status == 200
    elif how == "reject_all":
        assert page.evaluate(DECIDE, "reject_all") == 200
    else:  # the banner's form without JavaScript: a navigation that comes back (303)
        with page.expect_navigation():
            page.evaluate(POST_FORM, how)


@pytest.mark.parametrize("how", ["delete", "reject_all", "withdraw"])
def test_the_marketing_cookie_the_app_set_at_the_root_is_gone(
    browser: Browser, site: str, how: str
) -> None:
    with browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"{site}/state")
        assert page.evaluate(DECIDE, "accept_all") == 200
        page.goto(f"{site}/")  # the app sets its cookies, now allowed
        paths = {c["name"]: c["path"] for c in context.cookies()}
        assert paths["ad_id"] == "/"  # not the rule's /shop
        assert {"session", "theme", "_ga_123"} <= paths.keys()

        page.goto(f"{site}/state")
        _take_marketing_back(page, how)

        left = sorted(c["name"] for c in context.cookies() if c["name"] != "cookiewall")
        assert "ad_id" not in left, left
        assert left == ["session"]  # necessary; theme and _ga_123 (at their rules' "/") gone
