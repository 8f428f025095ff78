"""Which of a visitor's cookies a decision or a withdrawal expires, and how the deletion is
written: refused categories, cookie paths (under a mount, percent-encoded), prefixes, domains,
and no more deletions than a browser's jar could need."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.test_cookiewall_support import call, consent_cookie, decide, make_app, set_cookies

# -- a decision that takes categories back expires their cookies --------------------------------

# The browser's jar after "accept all": one cookie per category (ad_id lives at /shop, so the
# browser never sends it to /consent).
_JAR = "theme=dark; _ga_1=GA1.2.3; session=s1; stray=x"


def _expired(response: Any) -> set[str]:
    return {
        value.split("=", 1)[0].strip()
        for value in response.headers.get_list("set-cookie")
        if "max-age=0" in value.lower()
    }


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
@pytest.mark.parametrize(
    ("decision", "gpc", "taken_back"),
    [
        ({"action": "reject_all"}, False, {"theme", "_ga_1", "ad_id"}),
        ({"action": "save", "categories": ["preferences"]}, False, {"_ga_1", "ad_id"}),
        ({"action": "save", "categories": ["analytics"]}, False, {"theme", "ad_id"}),
        ({"action": "save", "categories": []}, False, {"theme", "_ga_1", "ad_id"}),
        # GPC takes marketing back whatever the choice (California's rule).
        ({"action": "accept_all"}, True, {"ad_id"}),
        ({"action": "accept_all"}, False, set()),
    ],
)
def test_taking_consent_back_expires_the_cookies_it_had_allowed(
    form: bool, decision: dict[str, Any], gpc: bool, taken_back: set[str]
) -> None:
    """Fixed in "endpoints: a decision expires the cookies of categories it does not allow":
    changing "accept all" to "reject all" (the banner's "change your choice" link) kept _ga
    (two years) and theme in the browser, sent on every request; only `withdraw` expired them.
    Now a decision expires what it does not allow, as a withdrawal does: the cookies the
    request carries and the exact-name rules registered at a path /consent is not under."""
    app = make_app()
    extra = {"sec-gpc": "1"} if gpc else {}
    accepted = decide(app, "accept_all", **extra)
    headers = {"cookie": f"cookiewall={accepted}; {_JAR}", **extra}
    if form:
        response = call(app, "POST", "/consent", data=decision, headers=headers)
    else:
        response = call(app, "POST", "/consent", json=decision, headers=headers)
    assert response.status_code == (303 if form else 200)
    assert _expired(response) == taken_back
    # The new decision is set, not expired; necessary and undeclared cookies are not touched
    # (undeclared ones follow unknown_cookies, not a category).
    assert "max-age=0" not in set_cookies(response)["cookiewall"].lower()
    assert consent_cookie(response)


def _attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in parts)}


def _prefixed(name: str, **options: Any) -> Starlette:
    gate = make_app(cookie_name=name, **options)
    return Starlette(routes=[Mount("/shop", app=gate), Mount("/", app=gate)])


def test_withdrawal_under_a_mount_clears_a_host_cookie_once() -> None:
    response = call(_prefixed("__Host-consent"), "DELETE", "/shop/consent")
    cleared = [h for h in response.headers.get_list("set-cookie") if h.startswith("__Host-")]
    assert len(cleared) == 1
    assert _attributes(cleared[0])["path"] == "/"
