"""A withdrawal (or a decision that takes a category back) expires a registered cookie where
the browser keeps it, not only where its rule says it lives.

The README's policy registers `CookieRule("ad_id", "marketing", path="/shop")`, and an app's
`response.set_cookie("ad_id", ...)` writes Path=/. Expired only at /shop, the visitor's copy at
/ stayed. But the browser sends that copy with the withdrawal itself: a cookie the request to
/consent carries lives at a path enclosing /consent, so the gate expires it at "/" too, where
an app's `set_cookie` writes it (and only there: more copies pushed the answer under a root path
past nginx's 4k header buffer, where the whole withdrawal became a 502). The browser is
modelled by httpx's cookie jar (the standard library's: a deletion must name the cookie's
path); tests/test_browser_withdrawal_reaches_cookies_where_the_browser_keeps_them.py
checks the same in Chromium.

The gate also warns, once per rule, when the app sets an optional cookie away from its rule's
path or domain, where a withdrawal may not reach it, naming no path of the app's but "/".
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from cookiewall import ConsentMiddleware, CookieRule, Policy
from cookiewall.endpoints import MAX_EXPIRED_COOKIES, MAX_EXPIRED_COPIES
from cookiewall.scoped import consent_from_scope
from tests.support import ROOT, uvicorn_server
from tests.test_cookiewall_support import SECRET, call, decide, make_app, make_policy

HOST = "www.example.com"
BASE = f"http://{HOST}"
EXPIRED = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"

# How a visitor who accepted everything takes marketing back: (method, JSON or form body).
TAKEN_BACK = [
    ("DELETE", None),
    ("POST", {"json": {"action": "withdraw"}}),
    ("POST", {"data": {"action": "withdraw", "next": "/"}}),
    ("POST", {"json": {"action": "reject_all"}}),
    ("POST", {"data": {"action": "reject_all", "next": "/"}}),
    ("POST", {"json": {"action": "save", "categories": ["preferences"]}}),
]


def _jar_after(method: str, body: dict[str, Any] | None, mount: str = "") -> list[str]:
    """Accept all, let the app set `ad_id` and `theme` (Starlette's default Path=/), take
    marketing back `method`-wise: the names (and paths) of the cookies left in the jar."""
    gate = make_app()
    app = Starlette(routes=[Mount(mount, app=gate)]) if mount else gate

    async def go() -> list[str]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            accepted = await client.post(f"{mount}/consent", json={"action": "accept_all"})
            assert accepted.status_code == 200
            page = await client.get(f"{mount}/", params=[("set", "ad_id"), ("set", "theme")])
            assert "Path=/;" in page.headers["set-cookie"]  # not /shop: the app's default
            kept = {c.name: c.path for c in client.cookies.jar}
            assert kept.keys() == {"cookiewall", "ad_id", "theme"}
            headers = {"origin": BASE} if body and "data" in body else None
            answer = await client.request(
                method, f"{mount}/consent", headers=headers, **(body or {})
            )
            assert answer.status_code in (200, 303), answer.text
        return sorted(f"{c.name}@{c.path}" for c in client.cookies.jar)

    return asyncio.run(go())


@pytest.mark.parametrize(("method", "body"), TAKEN_BACK)
def test_a_cookie_the_app_set_at_the_root_is_gone_after_marketing_is_taken_back(
    method: str, body: dict[str, Any] | None
) -> None:
    left = _jar_after(method, body)
    assert not any(c.startswith("ad_id@") for c in left), left


@pytest.mark.parametrize(("method", "body"), TAKEN_BACK[:3])
def test_under_a_mount_its_rules_path_covers_the_copy_at_the_root_is_not_expired(
    method: str, body: dict[str, Any] | None
) -> None:
    """Under /shop, `ad_id`'s rule path (/shop) covers the endpoint: the copy sent may be the
    rule's own, and a copy at "/" may be another app's of the same name (a site around the
    mounted shop: its `ad_id`, or a necessary `lang`, went with the shop's withdrawal; review
    r250). So it stays, and the gate's warning names the app's misplaced cookie instead."""
    left = _jar_after(method, body, mount="/shop")
    assert "ad_id@/" in left, left
    assert not any(c.startswith("theme@") for c in left), left


def _expired(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def _withdrawn(cookie: str, app: Any = None, path: str = "/consent", **options: Any) -> Any:
    response = call(app or make_app(), "DELETE", path, headers={"cookie": cookie}, **options)
    assert response.status_code == 200
    return response


def test_carried_it_is_expired_at_the_paths_enclosing_the_endpoint_once_each() -> None:
    response = _withdrawn("ad_id=1; theme=dark")
    assert _expired(response, "ad_id") == [
        f"ad_id=; {EXPIRED}; Path=/shop",
        f"ad_id=; {EXPIRED}; Path=/",
    ]
    # theme's rule says "/": the one copy a request to /consent can carry, expired once.
    assert _expired(response, "theme") == [f"theme=; {EXPIRED}; Path=/"]


def test_not_carried_it_is_expired_at_its_rules_path_alone_as_before() -> None:
    response = _withdrawn("theme=dark")
    assert _expired(response, "ad_id") == [f"ad_id=; {EXPIRED}; Path=/shop"]


def test_under_a_root_path_its_rules_path_covers_a_carried_cookie_gets_no_copy() -> None:
    app = Starlette(routes=[Mount("/shop", app=make_app())])
    response = _withdrawn("ad_id=1; theme=dark", app, "/shop/consent")
    paths = {
        name: [h.split("Path=")[1] for h in _expired(response, name)] for name in ("ad_id", "theme")
    }
    # Not at "/": a cookie of that name there may be another app's (see the test above);
    # nor at /shop/, which costs header bytes a proxy may not have (see the test below).
    assert paths == {"ad_id": ["/shop"], "theme": ["/"]}


def readme_gate() -> ConsentMiddleware:
    """The README's policy (*The policy*), served by uvicorn below."""
    return make_app()


def example_gate() -> ConsentMiddleware:
    """examples/cookiewall.toml, the policy the README's examples use."""
    return make_app(policy=Policy.from_toml(ROOT / "examples" / "cookiewall.toml"))


def _header_bytes(response: httpx.Response) -> int:
    """The response head as the server wrote it: what a proxy must buffer whole."""
    status = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
    fields = sum(len(key) + len(value) + 4 for key, value in response.headers.raw)
    return len(status) + fields + 2


# nginx reads an upstream's response head into `proxy_buffer_size`, one page by default: a head
# that does not fit is a 502, and the browser gets none of the withdrawal's deletions.
NGINX_PROXY_BUFFER = 4096
# How a visitor takes everything back on a page of the shop: each answer expires the same.
TAKEN_BACK_RAW = [
    ("DELETE", None, None),
    ("POST", "application/json", b'{"action": "withdraw"}'),
    ("POST", "application/x-www-form-urlencoded", b"action=withdraw&next=/shop/cart/checkout"),
    ("POST", "application/x-www-form-urlencoded", b"action=reject_all&next=/shop/cart/checkout"),
]


@pytest.mark.parametrize("policy", ["readme_gate", "example_gate"])
def test_behind_a_proxy_that_strips_a_root_path_the_answer_fits_its_header_buffer(
    policy: str,
) -> None:
    """The README's deployment under a sub-path (`uvicorn shop:app --root-path /shop` behind a
    proxy that strips /shop, over https) and its worst case: a visitor who accepted all and
    carries every cookie the policy names."""
    factory = f"{__name__}:{policy}"
    accepted = decide(globals()[policy](), "accept_all")
    every_cookie = (
        f"cookiewall={accepted}; session=s1; theme=dark; lang=de; _ga=GA1.1.1; "
        "_ga_ABC123=GS1.1.1; ad_id=A1"
    )
    served = uvicorn_server(
        factory,
        factory=True,
        extra_args=("--root-path", "/shop", "--proxy-headers", "--forwarded-allow-ips", "*"),
    )
    with served as (base, _), httpx.Client(base_url=base, timeout=20) as client:
        for method, content_type, body in TAKEN_BACK_RAW:
            headers = {
                "host": HOST,
                "x-forwarded-proto": "https",
                "origin": f"https://{HOST}",
                "sec-fetch-site": "same-origin",
                "cookie": every_cookie,
                **({"content-type": content_type} if content_type else {}),
            }
            answer = client.request(method, "/consent", headers=headers, content=body)
            assert answer.status_code in (200, 303), answer.text
            assert f"ad_id=; {EXPIRED}; Path=/shop; Secure" in answer.headers.get_list("set-cookie")
            assert _header_bytes(answer) < NGINX_PROXY_BUFFER, (method, body)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # Browsers keep a __Host- cookie only host-only at Path=/: nothing else to expire.
        (CookieRule("__Host-ad", "marketing"), ["Path=/; Secure"]),
        # A __Secure- one only with Secure, which its deletions must say over http too.
        (
            CookieRule("__Secure-ad", "marketing", path="/shop"),
            ["Path=/shop; Secure", "Path=/; Secure"],
        ),
        # At the rule's domain and host-only, at the rule's path and where it was sent from.
        (
            CookieRule("ad", "marketing", domain=".example.com", path="/shop"),
            [
                "Path=/shop; Domain=.example.com",
                "Path=/shop",
                "Path=/; Domain=.example.com",
                "Path=/",
            ],
        ),
        (
            CookieRule("ad", "marketing", path="/shop", partitioned=True),
            [
                "Path=/shop",
                "Path=/shop; Secure; Partitioned",
                "Path=/",
                "Path=/; Secure; Partitioned",
            ],
        ),
    ],
)
def test_prefixes_domains_and_partitioned_jars(rule: CookieRule, expected: list[str]) -> None:
    gate = make_app(policy=make_policy(cookies=[rule]))
    response = _withdrawn(f"{rule.pattern}=1", gate, base_url=BASE)
    assert _expired(response, rule.pattern) == [
        f"{rule.pattern}=; {EXPIRED}; {e}" for e in expected
    ]


def test_a_crafted_cookie_header_gets_a_bounded_answer() -> None:
    gate = make_app(policy=make_policy(cookies=[CookieRule("_ga*", "analytics", path="/x")]))
    app = Starlette(routes=[Mount("/a/b/c", app=gate)])
    cookie = "; ".join(f"_ga{n}=1" for n in range(1000))
    response = _withdrawn(cookie, app, "/a/b/c/consent")
    expired = [h for h in response.headers.get_list("set-cookie") if h.startswith("_ga")]
    assert len(expired) == MAX_EXPIRED_COOKIES + MAX_EXPIRED_COPIES
    assert len(set(expired)) == len(expired)


# Set-Cookies away from their rules' path or domain, with values that must never be logged.
WRONG_PATH = "ad_id=SECRET-VALUE-1; Path=/"
WRONG_DOMAIN = "_ga_1=SECRET-VALUE-2; Domain=shop.example.com; Path=/"


def _gate_setting(*set_cookies: str, policy: Policy | None = None) -> ConsentMiddleware:
    """A gate whose app's "/" sends `set_cookies`, and those `?also=` names."""

    async def page(request: Request) -> Response:
        response = PlainTextResponse("ok")
        for header in (*set_cookies, *request.query_params.getlist("also")):
            response.raw_headers.append((b"set-cookie", header.encode()))
        return response

    return ConsentMiddleware(
        Starlette(routes=[Route("/", page)]), policy=policy or make_policy(), secret_key=SECRET
    )


def _scope_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "but the rule says" in r.getMessage()
    ]


def _visit(gate: ConsentMiddleware, accepted: str, **params: str) -> None:
    headers = {"cookie": f"cookiewall={accepted}"}
    assert call(gate, "GET", "/", headers=headers, params=params).status_code == 200


@pytest.mark.parametrize(
    ("set_cookies", "named", "reach"),
    [
        (
            (WRONG_PATH,),
            "rule 'ad_id' at Path=/, host-only, but the rule says Path=/shop, host-only",
            "only when the browser sends it to a consent endpoint outside the rule's path",
        ),
        (
            (WRONG_DOMAIN,),
            "rule '_ga*' at Path=/, Domain=shop.example.com, but the rule says Path=/,"
            " Domain=example.com",
            "cannot expire it there",
        ),
        # Behind a header that sends the response the slow way (an undeclared name): judged there.
        (("stray=1", WRONG_PATH), "'ad_id' at Path=/,", "consent endpoint"),
        # A deletion sets nothing: the Set-Cookie after it is the one judged.
        (
            ("ad_id=; Max-Age=0; Path=/elsewhere", WRONG_PATH),
            "'ad_id' at Path=/, host-only",
            "consent",
        ),
        # The app's path can name an account: not logged. Never sent to /consent, nothing
        # there expires it, and the line must not say otherwise.
        (
            ("theme=SECRET-VALUE-3; Path=/u/jane.doe@example.com",),
            "rule 'theme' at a Path other than / (not logged), host-only, but the rule says"
            " Path=/, host-only",
            "cannot expire it there",
        ),
        # Sent to /consent, but a withdrawal expires a carried cookie at "/" alone.
        (("ad_id=SECRET-VALUE-4; Path=/consent",), "a Path other than /", "cannot expire it"),
    ],
)
def test_a_cookie_set_away_from_its_rule_is_warned_about_once_without_its_value(
    caplog: pytest.LogCaptureFixture, set_cookies: tuple[str, ...], named: str, reach: str
) -> None:
    gate = _gate_setting(*set_cookies)
    accepted = decide(gate, "accept_all")
    with caplog.at_level(logging.INFO, logger="cookiewall"):
        for _ in range(3):
            _visit(gate, accepted)
            assert call(gate, "GET", "/").status_code == 200  # undecided: removed, not warned again
    [warning] = _scope_warnings(caplog)
    assert named in warning
    assert reach in warning
    assert "SECRET-VALUE" not in caplog.text
    assert "jane" not in caplog.text
    assert "/consent," not in caplog.text


def test_a_pattern_rules_names_are_warned_about_once_and_leave_room_for_other_rules(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`ad_<campaign>` names come from requests: once a name would be a line for each, and
    once the remembered names are full, no other rule's misplaced cookie would be told."""
    campaigns = [f"ad_c{n}=1; Path=/" for n in range(1100)]
    policy = make_policy(
        cookies=[CookieRule("theme", "preferences"), CookieRule("ad_*", "marketing", path="/shop")]
    )
    gate = _gate_setting(*campaigns, policy=policy)
    accepted = decide(gate, "accept_all")
    with caplog.at_level(logging.INFO, logger="cookiewall"):
        _visit(gate, accepted)
        _visit(gate, accepted, also="theme=dark; Path=/u/1337")
    warnings = _scope_warnings(caplog)
    assert [w.split(" at ")[0] for w in warnings] == [
        "cookiewall: the app sets a cookie of rule 'ad_*'",
        "cookiewall: the app sets a cookie of rule 'theme'",
    ]
    assert "ad_c" not in caplog.text


def test_a_repeated_deletion_is_remembered_and_a_set_after_it_still_judged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that resets `theme` on each visit (Starlette's `delete_cookie`): after the first,
    no rule lookup or date parse (they made the consenting visitor's response 30 times
    slower); the name is not remembered, so a Set-Cookie that sets it is still judged."""
    reset = 'theme=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax'
    gate = _gate_setting(reset)
    accepted = decide(gate, "accept_all")
    _visit(gate, accepted)
    looked_up: list[str] = []
    rule_for = Policy.rule_for

    def counted(policy: Policy, name: str) -> CookieRule | None:
        looked_up.append(name)
        return rule_for(policy, name)

    monkeypatch.setattr(Policy, "rule_for", counted)
    for _ in range(5):
        _visit(gate, accepted)
    assert looked_up == []
    with caplog.at_level(logging.INFO, logger="cookiewall"):
        _visit(gate, accepted, also="theme=dark; Path=/u/1337")
    [warning] = _scope_warnings(caplog)
    assert "rule 'theme' at a Path other than /" in warning


def test_cookies_set_where_their_rules_say_and_necessary_ones_are_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = _gate_setting(
        "theme=dark; Path=/",
        "ad_id=1; Path=/shop",
        "_ga_2=1; Domain=.EXAMPLE.com; Path=/",  # the same domain as `.example.com`
        "_ga_3=1; Path=/",  # host-only: a rule's domain gets a host-only deletion too
        "session=1; Path=/account",  # necessary: no withdrawal expires it
        "ad_id=; Max-Age=0; Path=/",  # a deletion
    )
    accepted = decide(gate, "accept_all")
    with caplog.at_level(logging.INFO, logger="cookiewall"):
        call(gate, "GET", "/", headers={"cookie": f"cookiewall={accepted}"})
    assert _scope_warnings(caplog) == []


@pytest.mark.parametrize(
    ("scope_type", "says", "not_said"),
    [
        ("http", "or this route is outside it", "websocket"),
        ("websocket", "websocket scopes pass", "outside"),
    ],
)
def test_no_consent_is_explained_by_the_kind_of_request(
    scope_type: str, says: str, not_said: str
) -> None:
    with pytest.raises(RuntimeError) as raised:
        consent_from_scope({"type": scope_type, "state": {}})
    assert says in str(raised.value)
    assert not_said not in str(raised.value)
