"""Which of a visitor's cookies a decision or a withdrawal expires, and how the deletion is
written: refused categories, cookie paths (under a mount, percent-encoded), prefixes, domains,
and no more deletions than a browser's jar could need."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from cookiewall import ConsentMiddleware, Policy
from cookiewall.endpoints import MAX_REQUEST_COOKIES
from cookiewall.policy import CookieRule
from tests.shop_support import SHOP_SECRET, call_shop, shop_page, shop_policy
from tests.test_cookiewall_support import (
    call,
    consent_cookie,
    decide,
    make_app,
    make_policy,
    set_cookies,
)

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
    extra: dict[str, Any] = {"sec-gpc": "1"} if gpc else {}
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


# -- withdrawal reaches registered cookies the consent endpoint never sees ----------------------


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("DELETE", {}),
        ("POST", {"json": {"action": "withdraw"}}),
        ("POST", {"data": {"action": "withdraw", "next": "/shop/cart"}}),
    ],
)
@pytest.mark.parametrize("carried", ["", "; theme=dark", "; theme=dark; _ga_1=x"])
def test_withdraw_expires_a_registered_cookie_whose_path_the_endpoint_is_not_under(
    method: str, kwargs: dict[str, Any], carried: str
) -> None:
    """`CookieRule("ad_id", "marketing", path="/shop")` (the README's own example): a browser
    sends ad_id only to /shop/..., never to /consent, so a withdrawal that expired only the
    cookies the request carried left ad_id in place for good."""
    app = make_app()
    value = decide(app, "accept_all")
    response = call(
        app, method, "/consent", headers={"cookie": f"cookiewall={value}{carried}"}, **kwargs
    )
    assert response.status_code in (200, 303)
    sent = response.headers.get_list("set-cookie")
    assert "ad_id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/shop" in sent
    names = {h.split("=", 1)[0] for h in sent}
    assert "session" not in names  # necessary: kept
    assert ("theme" in names) == ("theme" in carried)  # path "/": sent when the browser has it


@pytest.mark.parametrize(("mount", "expired"), [("/blog", True), ("/shop", False)])
def test_withdraw_under_a_mount_judges_the_path_the_browser_asked_for(
    mount: str, expired: bool
) -> None:
    """Under Mount("/shop") the endpoint is /shop/consent, where the browser does send ad_id
    (Path=/shop): expired only if carried. Under Mount("/blog") it never is: always expired."""
    app = Starlette(routes=[Mount(mount, app=make_app())])
    response = call(app, "DELETE", f"{mount}/consent", headers={"cookie": "theme=1"})
    assert response.status_code == 200
    sent = response.headers.get_list("set-cookie")
    assert any(h.startswith("ad_id=") for h in sent) == expired


def test_withdraw_sent_where_the_browser_does_send_the_cookie_relies_on_the_header() -> None:
    """A rule whose path covers the endpoint is expired only when carried, as before."""
    app = make_app(path_prefix="/shop/consent")
    response = call(app, "DELETE", "/shop/consent", headers={"cookie": "theme=1"})
    names = {h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")}
    assert names == {"cookiewall", "theme"}  # ad_id (Path=/shop) would have been carried


def test_a_withdrawal_expires_a_cookie_of_a_percent_encoded_path() -> None:
    app = ConsentMiddleware(
        shop_page,
        policy=shop_policy(CookieRule("_ga", "analytics", path="/caf%C3%A9")),
        secret_key=SHOP_SECRET,
    )
    response = call_shop(app, "DELETE", "/consent", headers={"cookie": "_ga=1"})
    assert response.status_code == 200
    assert any(
        value.startswith("_ga=;") and "Path=/caf%C3%A9" in value
        for value in response.headers.get_list("set-cookie")
    )


# --- many consent cookies in one request ----------------------------------------------------------


async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_withdrawal_expires_no_more_cookies_than_a_browser_keeps() -> None:
    """Each cookie name in the Cookie header that an optional rule matches gets a deletion
    (up to four: with and without Domain, partitioned or not). 100,000 crafted names (1.2 MB)
    made a 17 MB answer and 450 ms of work; browsers keep at most 180 cookies per domain."""
    gate = ConsentMiddleware(plain, policy=shop_policy(), secret_key=SHOP_SECRET)
    header = "; ".join(f"_ga{i}=1" for i in range(100_000))
    response = call_shop(gate, "DELETE", "/consent", headers={"cookie": header})
    assert response.status_code == 200
    expired = [v for v in response.headers.get_list("set-cookie") if v.startswith("_ga")]
    assert len(expired) == 180


def test_a_withdrawal_still_expires_every_optional_cookie_a_real_jar_holds() -> None:
    gate = ConsentMiddleware(plain, policy=shop_policy(), secret_key=SHOP_SECRET)
    names = [f"_ga_{i:03}" for i in range(150)]
    header = "; ".join(f"{name}=1" for name in ["session", *names, "stray"])
    response = call_shop(gate, "DELETE", "/consent", headers={"cookie": header})
    expired = {v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")}
    assert expired == {*names, "cookiewall"}


# -- a withdrawal with a crafted Cookie header ---------------------------------------------

# Browsers send one host at most 180 cookies (Chromium and Firefox keep no more per domain).
# The earlier bound (db7fcd7) capped the deletions a header of registered names could ask
# for; one of 100,000 names no rule declares still cost every name a rule lookup (and
# flushed the policy's match cache, which the request path uses): ~0.45 s of the event loop.


class CountingPolicy(Policy):
    """The test policy, counting the rule lookups the gate makes through it: the work a
    crafted Cookie header buys, counted rather than timed (a loaded machine moves no count)."""

    __slots__ = ("lookups",)

    def __init__(self) -> None:
        template = make_policy()
        super().__init__(template.version, template.categories, template.cookies)
        self.lookups = 0

    def rule_for(self, cookie_name: str) -> CookieRule | None:
        self.lookups += 1
        return super().rule_for(cookie_name)


def test_a_withdrawal_reads_no_more_cookie_names_than_a_browser_sends() -> None:
    counting = CountingPolicy()
    app = make_app(policy=counting)
    header = "; ".join(f"x{i}=1" for i in range(100_000))  # 1 MB, names no rule declares
    response = call(app, "DELETE", "/consent", headers={"cookie": header})
    assert response.status_code == 200
    # The first MAX_REQUEST_COOKIES names, and the registered names the endpoint's path
    # cannot see (ad_id at /shop). Before 2736aab: one lookup per name, 100,000.
    assert counting.lookups <= MAX_REQUEST_COOKIES + len(counting.cookies), (
        f"{counting.lookups} rule lookups for a withdrawal with 100,000 cookie names"
    )


def test_guard_a_withdrawal_still_expires_a_full_jars_optional_cookies() -> None:
    # 1,000 names (more than any browser sends), the optional ones at the very end.
    names = [f"x{i}" for i in range(997)] + ["theme", "_ga_1", "_ga_2"]
    header = "; ".join(f"{name}=1" for name in names)
    response = call(make_app(), "DELETE", "/consent", headers={"cookie": header})
    expired = {v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")}
    assert {"theme", "_ga_1", "_ga_2", "ad_id", "cookiewall"} == expired
