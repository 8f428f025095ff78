"""Second security review, from an attacker's side: what answers HTTP or renders input.

Each test failed before its fix (see the commit that names it). The first review's ground
(CSRF refusals, open redirects of the consent form, forged cookies, escaping of paths and
policy texts) is in tests/test_security.py, tests/test_hostile_input.py and the *_review*
modules; this one adds what they left out:

* a cookie rule whose Path or Domain a Set-Cookie header cannot carry is a configuration
  error, not a 500 on every withdrawal;
* a page with the injected banner says it varies with Accept-Language;
* Accept-Language headers of any length cost the language cache no more than it reads;
* the dashboard's trailing-slash redirect never sends the browser to the Host it was sent.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from analytics.dashboard import dashboard
from cookiewall import ConsentMiddleware, Policy
from cookiewall.banner import Banner
from cookiewall.policy import TEXT_KEYS, Category, CookieRule
from tests.dashboard_support import PASSWORD, USER

SECRET = "a-secret-key-for-the-second-review"
PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


def policy(*rules: CookieRule) -> Policy:
    return Policy(
        "2026-11-28",
        [Category("necessary", required=True), Category("analytics", description="Counting.")],
        rules or [CookieRule("_ga*", "analytics")],
    )


async def html_page(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"%d" % len(PAGE)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 41000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.example") as http:
            return await http.request(method, url, **kwargs)

    return asyncio.run(go())


# --- cookie rules a Set-Cookie header cannot carry --------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"path": "/шop"},  # not latin-1: the withdrawal's header could not be written (500)
        {"path": "/café"},  # browsers match the percent-encoded path: this one never matches
        {"domain": "bücher.example"},  # an IDN is written in its A-label (xn--...) form
        {"domain": "\u0455hop.example"},  # a Cyrillic "s": a homograph of shop.example
    ],
    ids=["cyrillic-path", "latin1-path", "idn-domain", "homograph-domain"],
)
def test_a_cookie_rule_outside_ascii_is_refused_when_the_policy_is_made(
    rule: dict[str, str],
) -> None:
    with pytest.raises(ValueError, match="_ga"):
        policy(CookieRule("_ga", "analytics", **rule))


def test_a_withdrawal_expires_a_cookie_of_a_percent_encoded_path() -> None:
    app = ConsentMiddleware(
        html_page,
        policy=policy(CookieRule("_ga", "analytics", path="/caf%C3%A9")),
        secret_key=SECRET,
    )
    response = call(app, "DELETE", "/consent", headers={"cookie": "_ga=1"})
    assert response.status_code == 200
    assert any(
        value.startswith("_ga=;") and "Path=/caf%C3%A9" in value
        for value in response.headers.get_list("set-cookie")
    )


# --- Vary of the injected banner ------------------------------------------------------------


def test_an_injected_banner_varies_with_accept_language() -> None:
    app = ConsentMiddleware(html_page, policy=policy(), secret_key=SECRET, inject_banner=True)
    german = call(app, "GET", "/", headers={"accept-language": "de"})
    english = call(app, "GET", "/", headers={"accept-language": "en"})
    assert "Alle akzeptieren" in german.text
    assert "Accept all" in english.text
    for response in (german, english):
        vary = {token.strip().lower() for token in response.headers["vary"].split(",")}
        assert {"cookie", "accept-language"} <= vary


# --- the language cache and long Accept-Language headers --------------------------------------


def test_long_accept_language_headers_are_not_kept_whole_in_the_cache() -> None:
    banner = Banner(policy(), "/consent")
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for index in range(300):
            # Distinct, 64 kB each (httptools sets no header size limit): what a bot can send.
            header = f"de;q=0.{index % 9 + 1}, " + "x" * 65_536 + str(index)
            assert banner.language_for(header) == "de"
            del header
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1_000_000, f"{held} bytes kept for 300 Accept-Language headers"


def test_the_cache_still_answers_each_header_by_what_it_reads() -> None:
    banner = Banner(policy(), "/consent")
    assert banner.language_for("fr, de") == "fr"
    assert banner.language_for("de, fr") == "de"
    padded = "en;q=0.1, " + " " * 600 + ", de"  # what lies past the read length is not read
    assert banner.language_for(padded) == "en"
    assert banner.language_for(padded + "x") == "en"


# --- the dashboard's trailing-slash redirect ----------------------------------------------------


def dashboard_get(app: Any, path: str, host: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://dashboard.test", auth=(USER, PASSWORD)
        ) as http:
            return await http.get(path, headers={"host": host})

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("mount", "asked", "expected"),
    [
        ("", "/referrer/", "/referrer"),
        ("", "/referrer/?referrer=a.example&grain=week", "/referrer?referrer=a.example&grain=week"),
        ("", "/api/sites/", "/api/sites"),
        ("", "/static/dashboard.css//", "/static/dashboard.css"),
        ("", "/referrer//", "/referrer"),
        ("/analytics", "/analytics/referrer/", "/analytics/referrer"),
        ("/analytics", "/analytics/api/timeseries/?site=x", "/analytics/api/timeseries?site=x"),
    ],
)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "dashboard.test"])
def test_a_trailing_slash_redirect_stays_on_the_site_whatever_the_host_header(
    tmp_path: Path, mount: str, asked: str, expected: str, host: str
) -> None:
    inner = dashboard(tmp_path / "analytics.duckdb", basic=(USER, PASSWORD))
    app = Starlette(routes=[Mount(mount, app=inner)]) if mount else inner
    response = dashboard_get(app, asked, host)
    assert response.status_code in (307, 308)
    assert response.headers["location"] == expected
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/nothing-here/", "/nothing-here", "/api/"])
def test_a_path_no_route_answers_is_still_a_404(tmp_path: Path, path: str) -> None:
    app = dashboard(tmp_path / "analytics.duckdb", basic=(USER, PASSWORD))
    response = dashboard_get(app, path, "evil.example")
    assert response.status_code == 404
    assert "location" not in response.headers


# --- a Set-Cookie that consent let through is no response to share ------------------------------


def asset_app(cookie: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"text/css"),
            (b"cache-control", b"public, max-age=600, s-maxage=3600"),
            (b"set-cookie", cookie),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"p{}"})

    return app


def decided(app: ConsentMiddleware, action: str) -> str:
    response = call(app, "POST", "/consent", json={"action": action})
    assert response.status_code == 200
    return response.headers["set-cookie"].split(";", 1)[0]


@pytest.mark.parametrize("action", ["accept_all", "reject_all", None])
@pytest.mark.parametrize(
    "cookie", [b"_ga=GA1.2.3; Max-Age=3600; Path=/", b"_ga_4F2=x; Path=/; Secure"]
)
@pytest.mark.parametrize("inject_banner", [False, True])
def test_a_response_whose_cookies_depend_on_consent_is_never_shared(
    action: str | None, cookie: bytes, inject_banner: bool
) -> None:
    """A shared cache keeping a consenting visitor's response would set the tracking cookie
    for every later visitor, consent or not; one keeping the refused visitor's copy would
    withhold it from those who agreed."""
    app = ConsentMiddleware(
        asset_app(cookie), policy=policy(), secret_key=SECRET, inject_banner=inject_banner
    )
    headers = {"cookie": decided(app, action)} if action else {}
    response = call(app, "GET", "/site.css", headers=headers)
    assert ("_g" in response.headers.get("set-cookie", "")) == (action == "accept_all")
    directives = {d.strip().lower() for d in response.headers["cache-control"].split(",")}
    assert "public" not in directives
    assert not any(d.startswith("s-maxage") for d in directives)
    assert directives & {"private", "no-store"}
    assert "cookie" in response.headers.get("vary", "").lower()


@pytest.mark.parametrize("cookie", [b"session=abc; Path=/; HttpOnly", b"_ga=; Max-Age=0; Path=/"])
def test_a_required_cookie_or_a_deletion_keeps_the_apps_caching(cookie: bytes) -> None:
    policy_with_session = policy(
        CookieRule("session", "necessary"), CookieRule("_ga*", "analytics")
    )
    app = ConsentMiddleware(asset_app(cookie), policy=policy_with_session, secret_key=SECRET)
    response = call(app, "GET", "/site.css")
    assert response.headers.get_list("set-cookie") == [cookie.decode()]
    assert response.headers["cache-control"] == "public, max-age=600, s-maxage=3600"


@pytest.mark.parametrize(
    ("cache_control", "rewritten"),
    [
        (None, False),  # shared caches do not store a response that sets a cookie unasked
        (b"max-age=600", False),
        (b"private, max-age=600", False),
        (b"public", True),
        (b"max-age=60, s-maxage=600", True),
    ],
)
def test_only_a_response_offered_to_shared_caches_is_rewritten(
    cache_control: bytes | None, rewritten: bool
) -> None:
    # The consenting visitor's common path stays free: no header rewrite unless the app
    # invites a shared cache to keep the response.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/css"), (b"set-cookie", b"_ga=GA1.2.3; Path=/")]
        if cache_control is not None:
            headers.append((b"cache-control", cache_control))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"p{}"})

    gate = ConsentMiddleware(app, policy=policy(), secret_key=SECRET)
    response = call(gate, "GET", "/site.css", headers={"cookie": decided(gate, "accept_all")})
    assert response.headers.get("set-cookie", "").startswith("_ga=")
    sent = response.headers.get("cache-control")
    if rewritten:
        assert sent is not None
        assert "private" in sent
        assert "cookie" in response.headers["vary"].lower()
    else:
        assert sent == (None if cache_control is None else cache_control.decode())
        assert "vary" not in response.headers


# --- many consent cookies in one request ----------------------------------------------------------


async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("websocket", [False, True])
def test_a_cookie_header_with_thousands_of_consent_values_costs_a_few_checks(
    websocket: bool,
) -> None:
    """Browsers send the consent cookie once per path and domain that holds it: a handful.
    Each value costs a signature check (~9 us): 10,000 in a 1.3 MB header (httptools sets no
    header limit) took 90 ms of the event loop per request."""
    gate = ConsentMiddleware(plain, policy=policy(), secret_key=SECRET)
    payload, signature = gate.codec.sign(frozenset({"analytics"}), 1_795_000_000, "r").split(".")
    header = "; ".join(f"cookiewall={payload}{i}.{signature}" for i in range(10_000))
    if not websocket:
        response = call(gate, "GET", "/", headers={"cookie": header})
        assert response.status_code == 200
    else:
        # The handshake answer with a Set-Cookie makes the gate read the visitor's consent.
        consent = gate._handshake_consent({"headers": [(b"cookie", header.encode())]})
        assert not consent.decided
    assert gate.verifications <= 16


def test_the_newest_of_a_few_consent_values_still_counts() -> None:
    gate = ConsentMiddleware(plain, policy=policy(), secret_key=SECRET)
    now = int(time.time())
    older = gate.codec.sign(frozenset(), now - 60, "older")
    newer = gate.codec.sign(frozenset({"analytics"}), now, "newer")
    consent = gate._handshake_consent(
        {"headers": [(b"cookie", f"cookiewall={older}; cookiewall={newer}".encode())]}
    )
    assert consent.receipt_id == "newer"


@pytest.mark.parametrize("path", ["/", "/consent", "/consent/banner"])
def test_many_cookie_fields_are_joined_in_linear_time(path: str) -> None:
    """HTTP/2 sends each cookie as a field of its own, and HTTP/1.1 clients may repeat
    Cookie: the fields were joined by repeated concatenation, O(n^2). 40,000 of them (480 kB,
    under an h11 limit raised to 1 MB) took 2.5 s of the event loop; they now take ~50 ms."""
    gate = ConsentMiddleware(plain, policy=policy(), secret_key=SECRET)
    headers = [(b"host", b"shop.example"), *((b"cookie", b"c%d=v" % i) for i in range(100_000))]
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.perf_counter()
    asyncio.run(gate(scope, receive, send))
    elapsed = time.perf_counter() - started
    assert sent[0]["status"] == 200
    assert elapsed < 0.5, f"{elapsed:.2f} s for 100,000 Cookie fields"


def test_a_withdrawal_expires_no_more_cookies_than_a_browser_keeps() -> None:
    """Each cookie name in the Cookie header that an optional rule matches gets a deletion
    (up to four: with and without Domain, partitioned or not). 100,000 crafted names (1.2 MB)
    made a 17 MB answer and 450 ms of work; browsers keep at most 180 cookies per domain."""
    gate = ConsentMiddleware(plain, policy=policy(), secret_key=SECRET)
    header = "; ".join(f"_ga{i}=1" for i in range(100_000))
    response = call(gate, "DELETE", "/consent", headers={"cookie": header})
    assert response.status_code == 200
    expired = [v for v in response.headers.get_list("set-cookie") if v.startswith("_ga")]
    assert len(expired) == 180


def test_a_withdrawal_still_expires_every_optional_cookie_a_real_jar_holds() -> None:
    gate = ConsentMiddleware(plain, policy=policy(), secret_key=SECRET)
    names = [f"_ga_{i:03}" for i in range(150)]
    header = "; ".join(f"{name}=1" for name in ["session", *names, "stray"])
    response = call(gate, "DELETE", "/consent", headers={"cookie": header})
    expired = {v.split("=", 1)[0] for v in response.headers.get_list("set-cookie")}
    assert expired == {*names, "cookiewall"}


# --- hostile text in a real browser ---------------------------------------------------------------

# Each sets window.__pwned if the markup around it lets it run (no CSP here: the escaping
# alone must hold).
PAYLOADS = (
    "<img src=x onerror=window.__pwned=1>",
    '"><svg onload=window.__pwned=2>',
    "'><script>window.__pwned=3</script>",
    "</title></style></textarea><script>window.__pwned=4</script>",
    "</svg><img src=x onerror=window.__pwned=5>",
    "javascript:window.__pwned=6",
)


def hostile_report() -> Any:
    from datetime import date

    from analytics.reports import Report

    rows: list[dict[str, Any]] = [
        {"utm_source": p, "utm_medium": p, "utm_campaign": p, "pageviews": 3, "visitors": 2}
        for p in PAYLOADS
    ]
    return Report(
        kind="campaigns",
        title=PAYLOADS[3],
        site=PAYLOADS[1],
        start=date(2026, 4, 1),
        end=date(2026, 4, 3),
        grain="day",
        columns=("utm_source", "utm_medium", "utm_campaign", "pageviews", "visitors"),
        key_columns=("utm_source", "utm_medium", "utm_campaign"),
        rows=rows,
        periods=[date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3)],
        series={p * 3: [1, 2, 3] for p in PAYLOADS},  # long names: cut, whole as tooltip
        sparklines=[[1, 2, 3] for _ in PAYLOADS],
        notes=PAYLOADS,
    )


def hostile_banner_page() -> str:
    texts = {key: PAYLOADS[i % len(PAYLOADS)] for i, key in enumerate(sorted(TEXT_KEYS))}
    hostile = Policy(
        "2026-11-28",
        [
            Category("necessary", required=True, description=PAYLOADS[0]),
            Category("analytics", description=PAYLOADS[1]),
        ],
        [CookieRule("_ga*", "analytics", purpose=PAYLOADS[2])],
        texts={
            "en": {
                **texts,
                "labels": {"analytics": PAYLOADS[4]},
                "descriptions": {"analytics": PAYLOADS[5]},
            }
        },
    )
    banner = Banner(hostile, "/consent")
    snippet = banner.snippet("en", "/?q=" + PAYLOADS[1].replace(" ", "%20"))
    return f"<!doctype html><html><head><title>t</title></head><body>{snippet}</body></html>"


@pytest.mark.browser
@pytest.mark.parametrize("what", ["report", "banner"])
def test_hostile_text_never_runs_in_a_browser(browser: Any, what: str) -> None:
    from analytics.render.html import render_html

    if what == "report":
        # Without its Content-Security-Policy: escaping alone must keep the payloads inert.
        markup = render_html(hostile_report()).replace("Content-Security-Policy", "x-no-csp")
    else:
        markup = hostile_banner_page()
    context = browser.new_context(java_script_enabled=True)
    try:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.route("**/*", lambda route: route.abort())
        page.set_content(markup, wait_until="load")
        page.wait_for_timeout(200)
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []
        injected = 'script:not([src^="/consent/static/banner.js"]), img, [onerror], [onload]'
        assert page.locator(injected).count() == 0
        text = page.locator("body").inner_text()
        assert PAYLOADS[0] in text
        assert PAYLOADS[3] in text
    finally:
        context.close()


@pytest.mark.parametrize("root", ["/a\r\nSet-Cookie: x=1", "/a\x00b", "/a b/%0d%0a"])
def test_a_root_path_with_controls_never_reaches_a_header_raw(tmp_path: Path, root: str) -> None:
    app = dashboard(tmp_path / "analytics.duckdb", basic=(USER, PASSWORD))
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"{root}/referrer/",
        "raw_path": b"",
        "root_path": root,
        "query_string": b"x=%0d%0a",
        "headers": [
            (b"authorization", b"Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()))
        ],
        "scheme": "http",
        "server": ("dashboard.test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 307
    for _, value in sent[0]["headers"]:
        assert not any(byte < 0x21 or byte > 0x7E for byte in value.replace(b" ", b"")), value
