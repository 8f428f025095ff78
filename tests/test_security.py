"""Security of the consent gate, through the full stack (consent gate + recorder + app).

Promises (SPEC 3.2, 3.3, 3.4, and promise 4 "consent is given to a given version"):
* CSRF: a cross-site POST/DELETE (foreign Origin, `Origin: null`, `Sec-Fetch-Site:
  cross-site`) is refused with 403 and changes nothing — no cookie, no receipt; same-site
  requests are served.
* No open redirect: a form decision goes back only to a same-site relative path.
* No header injection: CR/LF from a cookie name, `next` or the path never reaches a header.
* Consent cannot be forged or replayed: a cookie for another policy version is undecided
  (and kept, for the servers of that version); a cookie signed with another key, or with
  another salt, or with an edited payload, is refused and cleared; signatures are checked
  with `hmac.compare_digest`.
* Secret rotation: an older key still verifies and is re-signed with the newest; a key that
  was removed no longer verifies.
* The receipts log cannot be made to grow without bound by one client.

tests/test_cookiewall_endpoints.py covers the endpoints alone; these add the full stack,
receipts as evidence that nothing changed, and the forging and rotation cases.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from cookiewall import Policy
from cookiewall.banner import Banner
from cookiewall.consent import SALT, ConsentCodec
from cookiewall.policy import TEXT_KEYS, Category, CookieRule
from tests.apps.full_stack_app import SECRETS, create_app, make_policy
from tests.test_cookiewall_support import receipt_of

NEW_KEY, OLD_KEY = SECRETS
REMOVED_KEY = "a-key-that-was-retired-long-ago"
HOST = "shop.example"
PAGE = {"origin": f"http://{HOST}"}  # what a browser sends with a form from the site's page


def run(app: Any, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            return [await client.request(m, url, **kw) for m, url, kw in requests]

    return asyncio.run(go())


def one(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    return run(app, (method, url, kwargs))[0]


def cookie_value(response: httpx.Response, name: str = "cookiewall") -> str | None:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    return None


def receipt_lines(app: Any) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in app.state.receipts.files())


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return create_app(tmp_path / "var", flush_interval=3600)


# --- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "null"},
        {"origin": "https://evil.example"},
        {"origin": f"http://{HOST}.evil.example"},
        {"origin": f"http://evil.example#{HOST}"},
        {"origin": f"http://{HOST}@evil.example"},
        {"origin": f"http://{HOST}:81"},
        {"origin": f"https://{HOST}"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": " CROSS-SITE "},
        {"origin": f"http://{HOST}", "sec-fetch-site": "cross-site"},
    ],
    ids=lambda h: "+".join(f"{k}={v}" for k, v in h.items()),
)
@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", {"data": {"action": "accept_all", "next": "/x"}}),
        ("POST", {"json": {"action": "accept_all"}}),
        ("DELETE", {}),
    ],
    ids=["form", "json", "delete"],
)
def test_cross_site_decisions_are_refused_and_change_nothing(
    app: Any, headers: dict[str, str], method: str, body: dict[str, Any]
) -> None:
    before = receipt_lines(app)
    response = one(
        app, method, "/consent", headers={**headers, "cookie": "theme=dark; _ga_1=x"}, **body
    )
    assert response.status_code == 403
    assert response.headers.get_list("set-cookie") == []
    assert receipt_lines(app) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": f"http://{HOST}"},
        {"origin": f"HTTP://{HOST.upper()}:80"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "none", "origin": f"http://{HOST}"},
    ],
)
def test_same_site_decisions_are_served_and_leave_a_receipt(
    app: Any, headers: dict[str, str]
) -> None:
    response = one(app, "POST", "/consent", headers=headers, json={"action": "reject_all"})
    assert response.status_code == 200
    assert cookie_value(response) is not None
    assert receipt_lines(app) == 1


# --- open redirect and header injection ------------------------------------------------------

NASTY_NEXT = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "/x\r\nSet-Cookie: ad_id=1",
    "/x\nLocation: https://evil.example",
    "/x\rLocation: https://evil.example",
    "/\x00/evil.example",
    " /evil",
    "https:evil.example",
    "https://evil.example",
    "HTTPS://evil.example",
    "javascript:alert(document.cookie)",
    "\u2215\u2215evil.example",  # DIVISION SLASH lookalikes
    "/\u2215evil.example",
    "\uff0f\uff0fevil.example",  # FULLWIDTH SOLIDUS
    "/\uff0fevil.example",
    "/\u3002evil.example",
    "/\u202e/moc.elgoog",  # right-to-left override
    "/" + "a" * 5000,
]


def location_is_same_site(location: str) -> bool:
    return (
        location.startswith("/")
        and location[1:2] not in ("/", "\\")
        and all("!" <= ch <= "~" for ch in location)
    )


@pytest.mark.parametrize("next_value", NASTY_NEXT)
def test_form_decisions_never_redirect_off_site_nor_inject_headers(
    app: Any, next_value: str
) -> None:
    response = one(
        app, "POST", "/consent", data={"action": "reject_all", "next": next_value}, headers=PAGE
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location_is_same_site(location), location
    assert location == "/"  # every entry of the table is doubtful
    assert [k.lower() for k in response.headers].count("set-cookie") == 1


@pytest.mark.parametrize(
    "next_value",
    ["/%2F%2Fevil.example", "/%E2%88%95evil.example", "/a/b?c=%0d%0a", "/blog/post?x=1#frag"],
)
def test_encoded_next_stays_a_path_on_this_site(app: Any, next_value: str) -> None:
    response = one(
        app, "POST", "/consent", data={"action": "reject_all", "next": next_value}, headers=PAGE
    )
    assert response.headers["location"] == next_value
    assert location_is_same_site(response.headers["location"])


async def _raw(app: Any, path: str, raw_path: bytes, headers: list[tuple[bytes, bytes]]) -> Any:
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "DELETE",
        "scheme": "http", "path": path, "raw_path": raw_path, "query_string": b"",
        "root_path": "", "headers": headers, "client": ("192.0.2.1", 1), "server": (HOST, 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


@pytest.mark.parametrize(
    "cookie",
    [
        b"_ga\r\nX-Injected: 1=x",
        b"theme\nSet-Cookie: ad_id=1=x",
        b"_ga_\rX=1; theme=dark",
        b"ad_id\x00=1",
        b"_ga;\r\n=1",
        b"th\xc3\xa9me=1; _ga x=1",
    ],
)
def test_withdrawal_never_writes_a_header_from_a_hostile_cookie_name(
    app: Any, cookie: bytes
) -> None:
    messages = asyncio.run(
        _raw(app, "/consent", b"/consent", [(b"cookie", cookie), (b"host", HOST.encode())])
    )
    start = messages[0]
    assert start["status"] == 200
    for name, value in start["headers"]:
        assert not any(ch in value for ch in b"\r\n\x00"), (name, value)
    deleted = [v.split(b"=", 1)[0] for k, v in start["headers"] if k == b"set-cookie"]
    assert all(n in (b"cookiewall", b"theme", b"_ga_1", b"ad_id") for n in deleted), deleted


def test_a_hostile_path_is_escaped_in_the_injected_banner(app: Any) -> None:
    response = one(app, "GET", '/a"><script>alert(1)</script>?q="><img src=x>')
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "<img src=x>" not in response.text
    assert "aria-label" in response.text or "cookiewall" in response.text  # the banner is there


# --- forged or replayed consent ----------------------------------------------------------------


def sign(payload: dict[str, Any], key: str = NEW_KEY, salt: str = SALT) -> str:
    value = URLSafeSerializer(key, salt=salt).dumps(payload)
    assert isinstance(value, str)
    return value


def genuine_payload(
    version: str = "2026-11-28", granted: list[str] | None = None
) -> dict[str, Any]:
    return {
        "v": version,
        "g": ["analytics", "marketing", "preferences"] if granted is None else granted,
        "t": int(time.time()),
        "r": "receipt-1",
    }


def edited(value: str, change: Callable[[dict[str, Any]], None]) -> str:
    payload_b64, _, signature = value.rpartition(".")
    # itsdangerous zlib-compresses a payload when that makes it shorter, and marks it with a
    # leading '.': whether it does depends on the timestamp inside, so handle both forms.
    compressed = payload_b64.startswith(".")
    payload_b64 = payload_b64.lstrip(".")
    raw = base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4))
    payload = json.loads(zlib.decompress(raw) if compressed else raw)
    change(payload)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature


FORGERIES: dict[str, Callable[[], str]] = {
    "signed-with-another-key": lambda: sign(genuine_payload(), key="not-the-sites-key-at-all"),
    "signed-with-a-removed-key": lambda: sign(genuine_payload(), key=REMOVED_KEY),
    "signed-with-another-salt": lambda: sign(genuine_payload(), salt="starlette.sessions"),
    "payload-edited-granted": lambda: edited(
        sign(genuine_payload(granted=[])), lambda p: p.__setitem__("g", ["marketing"])
    ),
    "payload-edited-version": lambda: edited(
        sign(genuine_payload("2025-01-01")), lambda p: p.__setitem__("v", "2026-11-28")
    ),
    "signature-stripped": lambda: sign(genuine_payload()).rpartition(".")[0],
    "signature-of-another-cookie": lambda: (
        sign(genuine_payload(granted=[])).rpartition(".")[0]
        + "."
        + sign(genuine_payload()).rpartition(".")[2]
    ),
    "unknown-category-validly-signed": lambda: sign(genuine_payload(granted=["everything"])),
    "expired-decision-validly-signed": lambda: sign({**genuine_payload(), "t": 1}),
    "future-decision-validly-signed": lambda: sign({**genuine_payload(), "t": 4102444800}),
}


@pytest.mark.parametrize("forge", list(FORGERIES.values()), ids=list(FORGERIES))
def test_forged_or_replayed_consent_is_undecided_and_cleared(
    app: Any, forge: Callable[[], str]
) -> None:
    value = forge()
    state, page = run(
        app,
        ("GET", "/consent", {"headers": {"cookie": f"cookiewall={value}"}}),
        ("GET", "/p/forged", {"headers": {"cookie": f"cookiewall={value}"}}),
    )
    assert state.json()["decided"] is False
    assert state.json()["granted"] == ["necessary"]
    assert cookie_value(state) == ""  # the bad cookie is cleared
    # The page's analytics, marketing and preference cookies stay blocked.
    names = {h.split("=", 1)[0] for h in page.headers.get_list("set-cookie")}
    assert names <= {"session", "cookiewall"}


@pytest.mark.parametrize("version", ["2025-01-01", "2027-01-01"], ids=["older", "newer"])
def test_a_genuine_cookie_of_another_version_is_undecided_grants_nothing_and_is_kept(
    app: Any, version: str
) -> None:
    value = sign(genuine_payload(version))
    state, page = run(
        app,
        ("GET", "/consent", {"headers": {"cookie": f"cookiewall={value}"}}),
        ("GET", "/p/forged", {"headers": {"cookie": f"cookiewall={value}"}}),
    )
    assert state.json()["decided"] is False
    assert state.json()["granted"] == ["necessary"]
    # The decision of another version's servers (a rolling deploy): not cleared.
    assert cookie_value(state) is None
    names = {h.split("=", 1)[0] for h in page.headers.get_list("set-cookie")}
    assert names <= {"session"}


def test_a_genuine_cookie_of_the_current_version_is_honoured(app: Any) -> None:
    response = one(
        app, "GET", "/consent", headers={"cookie": f"cookiewall={sign(genuine_payload())}"}
    )
    assert response.json()["decided"] is True
    assert cookie_value(response) is None  # nothing to clear or re-sign


def test_a_version_change_asks_again_the_visitor_who_consented(tmp_path: Path) -> None:
    before = create_app(tmp_path / "a", flush_interval=3600, policy=make_policy("2026-11-28"))
    after = create_app(tmp_path / "b", flush_interval=3600, policy=make_policy("2026-12-24"))
    value = cookie_value(one(before, "POST", "/consent", json={"action": "accept_all"}))
    assert value
    replayed = one(after, "GET", "/consent", headers={"cookie": f"cookiewall={value}"})
    assert replayed.json()["decided"] is False


def test_signatures_are_checked_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    codec = ConsentCodec(make_policy(), [NEW_KEY, OLD_KEY])
    good = sign(genuine_payload())
    assert codec.verify(good) is not None
    assert len(calls) == 1
    assert codec.verify(sign(genuine_payload(), key="wrong-key-wrong-key")) is None
    assert len(calls) == 3  # the newest key, then the older one: both compared in constant time


# --- secret rotation --------------------------------------------------------------------------


def test_an_older_key_still_verifies_and_is_resigned_with_the_newest(tmp_path: Path) -> None:
    old_only = create_app(tmp_path / "a", flush_interval=3600, secret_keys=[OLD_KEY])
    rotated = create_app(tmp_path / "b", flush_interval=3600, secret_keys=[NEW_KEY, OLD_KEY])
    value = cookie_value(
        one(old_only, "POST", "/consent", json={"action": "save", "categories": ["preferences"]})
    )
    assert value
    response = one(rotated, "GET", "/consent", headers={"cookie": f"cookiewall={value}"})
    assert response.json()["decided"] is True
    assert response.json()["granted"] == ["necessary", "preferences"]
    resigned = cookie_value(response)
    assert resigned
    assert resigned != value
    new_only = ConsentCodec(make_policy(), [NEW_KEY])
    decision = new_only.verify(resigned)
    assert decision is not None
    assert decision.granted == frozenset({"preferences"})
    assert decision.needs_resign is False
    # Same decision, same receipt: rotation is not a new consent.
    assert decision.receipt_id == receipt_of(value)


def test_a_removed_key_no_longer_verifies(tmp_path: Path) -> None:
    before = create_app(tmp_path / "a", flush_interval=3600, secret_keys=[NEW_KEY, REMOVED_KEY])
    after = create_app(tmp_path / "b", flush_interval=3600, secret_keys=[NEW_KEY])
    old_cookie = sign(genuine_payload(), key=REMOVED_KEY)
    assert one(before, "GET", "/consent", headers={"cookie": f"cookiewall={old_cookie}"}).json()[
        "decided"
    ]
    response = one(after, "GET", "/consent", headers={"cookie": f"cookiewall={old_cookie}"})
    assert response.json()["decided"] is False
    assert cookie_value(response) == ""


# --- the receipts log is bounded --------------------------------------------------------------


def test_one_client_cannot_grow_the_receipts_log_without_bound(tmp_path: Path) -> None:
    cap = 4096
    app = create_app(tmp_path / "var", flush_interval=3600, receipts_max_bytes=cap)
    receipts = app.state.receipts
    posts = 2000
    actions = ["accept_all", "reject_all", "withdraw", "save"]
    responses = run(
        app,
        *(
            ("POST", "/consent", {"json": {"action": actions[i % 4], "categories": ["analytics"]}})
            for i in range(posts)
        ),
    )
    assert {r.status_code for r in responses} == {200}
    files = receipts.files()
    total = sum(p.stat().st_size for p in files)
    assert len(files) == receipts.backups + 1
    assert total <= cap * (receipts.backups + 1)
    assert all(p.stat().st_size <= cap for p in files)
    # What is kept is whole lines: the newest decisions, each a valid receipt.
    lines = [json.loads(line) for p in files for line in p.read_text().splitlines()]
    assert lines
    assert {entry["action"] for entry in lines} == set(actions)


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

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
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
