"""Third review of the consent endpoints: each test pins a bug a site owner or a visitor hit.

Every test here failed before the fix named in its docstring (see `git log` for the commit),
except those marked as guards, which pin a decision the fix must not undo.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cookiewall import ReceiptLog
from tests.support import uvicorn_server
from tests.test_cookiewall_support import call, consent_cookie, decide, make_app, set_cookies

# uvicorn imports these (tests.test_gate_review3:served, :proxied, :no_referrer) itself.
served = make_app()


class _HostRewritingProxy:
    """What the app sees behind nginx `proxy_pass http://app:8000;` without
    `proxy_set_header Host $host;`: every request's Host is the upstream's name."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k, b"app:8000" if k == b"host" else v) for k, v in scope["headers"]]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


proxied = _HostRewritingProxy(make_app(inject_banner=True))


class _NoReferrer:
    """A site that sends `Referrer-Policy: no-referrer` on every answer, as privacy-minded
    sites do: browsers then send `Origin: null` on its own POSTs (Fetch, "serializing a
    request origin")."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


no_referrer = _NoReferrer(make_app(inject_banner=True))

# -- behind a TLS proxy that rewrites Host -------------------------------------------------------
#
# nginx `proxy_pass http://app:8000;` without `proxy_set_header Host $host;`: the browser is on
# https://example.com, the app sees `Host: app:8000` over http.

PROXIED = "http://app:8000"
BROWSER_ORIGIN = "https://example.com"

_DECISIONS: dict[str, dict[str, Any]] = {
    "JSON post (banner.js)": {"method": "POST", "json": {"action": "accept_all"}},
    "form post (no JavaScript)": {
        "method": "POST",
        "data": {"action": "save", "categories": "analytics", "next": "/page"},
    },
    "form withdrawal": {"method": "POST", "data": {"action": "withdraw", "next": "/page"}},
    "DELETE": {"method": "DELETE"},
}


def _send(app: Any, decision: str, headers: dict[str, str], base_url: str = PROXIED) -> Any:
    options = dict(_DECISIONS[decision])
    method = options.pop("method")
    return call(app, method, "/consent", headers=headers, base_url=base_url, **options)


@pytest.mark.parametrize("decision", list(_DECISIONS))
@pytest.mark.parametrize(
    "headers",
    [
        {"origin": BROWSER_ORIGIN, "sec-fetch-site": "same-origin"},
        {"origin": BROWSER_ORIGIN, "sec-fetch-site": " Same-Origin "},
        # A Referer instead of an Origin (the one the Origin check falls back to).
        {"referer": f"{BROWSER_ORIGIN}/page", "sec-fetch-site": "same-origin"},
    ],
)
def test_same_origin_browser_request_accepted_behind_a_host_rewriting_proxy(
    decision: str, headers: dict[str, str]
) -> None:
    """Fixed in "endpoints: trust Sec-Fetch-Site: same-origin ...": the Origin check compared
    the browser's `https://example.com` with the `Host: app:8000` the proxy sent, so every
    decision got 403 and the banner could not be answered on the whole site. A browser's
    `Sec-Fetch-Site: same-origin` says the page that sent it is this site, whatever the Host."""
    response = _send(make_app(), decision, headers)
    assert response.status_code in (200, 303), response.text
    assert "cookiewall" in set_cookies(response)


@pytest.mark.parametrize("decision", list(_DECISIONS))
@pytest.mark.parametrize(
    "headers",
    [
        # Fetch Metadata says another site: refused whatever the rest claims.
        {"origin": BROWSER_ORIGIN, "sec-fetch-site": "cross-site"},
        {"origin": "http://app:8000", "sec-fetch-site": "cross-site"},
        # A sibling subdomain (same-site, not same-origin) still needs a matching Origin.
        {"origin": "https://user-content.example.com", "sec-fetch-site": "same-site"},
        {"origin": "http://app:8000.evil.example", "sec-fetch-site": "same-site"},
        # Only the exact token counts: not a list, not a lookalike.
        {"origin": "https://evil.example", "sec-fetch-site": "same-origin, cross-site"},
        {"origin": "https://evil.example", "sec-fetch-site": "same-origins"},
        {"origin": "https://evil.example", "sec-fetch-site": "none"},
        # Forwarding headers are not believed: any client can send them.
        {"origin": "https://evil.example", "x-forwarded-host": "evil.example"},
        {
            "origin": "https://evil.example",
            "x-forwarded-host": "evil.example",
            "x-forwarded-proto": "https",
        },
        {"origin": "https://evil.example", "forwarded": "host=evil.example;proto=https"},
        {"referer": "https://evil.example/", "x-forwarded-host": "evil.example"},
    ],
)
def test_cross_site_still_refused_behind_the_proxy(decision: str, headers: dict[str, str]) -> None:
    """Guard: trusting `same-origin` must not let anything else through."""
    app = make_app(receipts=None)
    response = _send(app, decision, headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "forwarding",
    [
        {"x-forwarded-host": "example.com", "x-forwarded-proto": "https"},
        {"forwarded": "host=example.com;proto=https"},
    ],
)
def test_forwarding_headers_are_not_an_origin(forwarding: dict[str, str]) -> None:
    """Guard: a browser without Fetch Metadata (Safari before 16.4) behind the Host-rewriting
    proxy is refused even when the proxy adds X-Forwarded-Host: the app cannot tell the proxy's
    value from a client's. The fix for those is the proxy's `Host` (see docs/readme/gate.md)."""
    response = _send(make_app(), "JSON post (banner.js)", {"origin": BROWSER_ORIGIN, **forwarding})
    assert response.status_code == 403


def test_real_uvicorn_behind_a_host_rewriting_proxy() -> None:
    """The same through a real server: uvicorn passes the proxy's Host and scheme through."""
    with (
        uvicorn_server("tests.test_gate_review3:served") as (base, _),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        headers = {"host": "app:8000", "origin": BROWSER_ORIGIN, "sec-fetch-site": "same-origin"}
        posted = client.post(
            "/consent",
            data={"action": "reject_all", "next": "/page"},
            headers=headers,
            follow_redirects=False,
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == "/page"
        assert "cookiewall" in set_cookies(posted)
        refused = client.post(
            "/consent",
            json={"action": "accept_all"},
            headers={**headers, "sec-fetch-site": "cross-site"},
        )
        assert refused.status_code == 403


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("button", ["Accept all", "Reject all"])
@pytest.mark.parametrize(
    ("site", "origin"),
    [
        ("proxied", "http://127.0.0.1"),  # Host: app:8000 does not match it
        ("no_referrer", "null"),  # Referrer-Policy: no-referrer, on the form's post
    ],
)
def test_real_browser_decides_on_the_banner(
    browser: Any, javascript: bool, button: str, site: str, origin: str
) -> None:
    """Chromium on the banner of a site whose proxy rewrites Host, and of a site that sends
    `Referrer-Policy: no-referrer` (Chromium's POSTs then carry `Origin: null`): both the plain
    form (no JavaScript) and banner.js's JSON post are answered, and the choice holds on the
    next page. Before the fix both sites answered every decision 403 (the JSON post fell back
    to the form, which got a 403 page)."""
    with uvicorn_server(f"tests.test_gate_review3:{site}") as (base, _):
        context = browser.new_context(java_script_enabled=javascript)
        try:
            page = context.new_page()
            posts: list[Any] = []
            page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
            page.goto(base + "/")
            page.get_by_role("button", name=button).click()
            page.wait_for_load_state()
            if javascript:
                page.wait_for_function("!document.querySelector('[data-cookiewall]')")
            names = {cookie["name"] for cookie in context.cookies()}
            assert "cookiewall" in names
            summary = "all" if button == "Accept all" else "none"
            page.goto(base + "/")
            assert page.locator("#s").inner_text() == summary
            assert page.locator("[data-cookiewall]").count() == 0
            # The browser said so itself (and the app saw Host: app:8000).
            assert posts
            for post in posts:
                headers = post.all_headers()
                assert headers.get("sec-fetch-site") == "same-origin"
                # (banner.js's fetch() is in CORS mode: it sends the real origin either way)
                sent = origin if not javascript else "http://127.0.0.1"
                assert headers.get("origin", "").startswith(sent)
        finally:
            context.close()


# -- a withdrawal's receipt names the receipt it withdraws -------------------------------------


def _receipts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _withdraw(app: Any, how: str, cookie: str, **headers: str) -> Any:
    headers = {**headers, "cookie": f"cookiewall={cookie}"}
    if how == "DELETE":
        return call(app, "DELETE", "/consent", headers=headers)
    if how == "form":
        data = {"action": "withdraw", "next": "/"}
        return call(app, "POST", "/consent", data=data, headers=headers)
    return call(app, "POST", "/consent", json={"action": "withdraw"}, headers=headers)


@pytest.mark.parametrize("how", ["DELETE", "form", "JSON"])
@pytest.mark.parametrize("action", ["accept_all", "reject_all", "save"])
@pytest.mark.parametrize("gpc", [False, True])
def test_withdrawal_receipt_names_the_withdrawn_receipt(
    tmp_path: Path, how: str, action: str, gpc: bool
) -> None:
    """Fixed in "receipts: a withdrawal names the receipt of the decision it withdraws": the
    withdrawal's receipt had only its own random id, so an auditor could not tell which
    consent it ended. It now carries `withdraws`, the earlier receipt's (random) id: nothing
    about the visitor."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    extra = {"sec-gpc": "1"} if gpc else {}
    cookie = decide(app, action, ("analytics",), **extra)
    response = _withdraw(app, how, cookie, **extra)
    assert response.status_code in (200, 303)
    decision, withdrawal = _receipts(path)
    assert withdrawal["action"] == "withdraw"
    assert withdrawal["withdraws"] == decision["id"]
    assert withdrawal["id"] != decision["id"]
    assert set(withdrawal) == {
        "id",
        "time",
        "policy_version",
        "granted",
        "action",
        "gpc",
        "withdraws",
    }


def test_withdrawal_names_the_decision_in_force_after_a_change(tmp_path: Path) -> None:
    """The newest decision is the one withdrawn, not the first one."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    first = decide(app, "accept_all")
    changed = call(
        app,
        "POST",
        "/consent",
        json={"action": "reject_all"},
        headers={"cookie": f"cookiewall={first}"},
    )
    _withdraw(app, "DELETE", consent_cookie(changed))
    accepted, rejected, withdrawal = _receipts(path)
    assert withdrawal["withdraws"] == rejected["id"] != accepted["id"]


@pytest.mark.parametrize(
    "cookie",
    [
        None,  # never decided
        "garbage",  # tampered: undecided
    ],
)
def test_withdrawal_without_a_decision_names_none(tmp_path: Path, cookie: str | None) -> None:
    """Nothing in force, nothing to name: the receipt has no `withdraws`."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    headers = {"cookie": f"cookiewall={cookie}"} if cookie else {}
    assert call(app, "DELETE", "/consent", headers=headers).status_code == 200
    (withdrawal,) = _receipts(path)
    assert "withdraws" not in withdrawal


@pytest.mark.parametrize(
    "withdraws",
    ["", "a b", "x" * 65, "1.2.3.4", "abc\n{}", "Mozilla/5.0"],
)
def test_record_refuses_a_withdraws_that_is_no_receipt_id(tmp_path: Path, withdraws: str) -> None:
    """`withdraws` takes a receipt id (URL-safe base64), never free text that could carry an
    address or a user agent into the log."""
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="withdraws"):
        log.record(
            receipt_id="abc",
            action="withdraw",
            policy_version="v",
            granted=[],
            gpc=False,
            withdraws=withdraws,
        )
    assert not log.path.exists() or log.path.read_text() == ""


def test_record_takes_withdraws_only_for_a_withdrawal(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="withdraws"):
        log.record(
            receipt_id="abc",
            action="accept_all",
            policy_version="v",
            granted=[],
            gpc=False,
            withdraws="PGqCeQ6hKqMfSJOo",
        )


# -- the banner's static files revalidate behind a gzipping proxy ------------------------------


@pytest.mark.parametrize("path", ["/consent/static/banner.js", "/consent/static/banner.css"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ("{etag}", 304),
        ("W/{etag}", 304),  # nginx `gzip on` weakens the ETag it passes on
        ('"other", {etag}', 304),  # a cache that holds several versions
        ('W/"other",W/{etag}', 304),
        ("*", 304),
        ('"other"', 200),
        ('W/"other"', 200),
        ("", 200),
        ("{etag}x", 200),
    ],
)
def test_static_files_answer_if_none_match_as_rfc_9110_says(
    path: str, method: str, if_none_match: str, status: int
) -> None:
    """Fixed in "endpoints: If-None-Match on the banner's static files is compared weakly":
    only the exact strong tag got 304, so behind a gzipping proxy (which sends `W/"…"`) or a
    cache asking with a list, every revalidation downloaded the whole file again. RFC 9110
    13.1.2: If-None-Match uses the weak comparison and takes a list or `*`."""
    app = make_app()
    etag = call(app, "GET", path).headers["etag"]
    header = if_none_match.format(etag=etag)
    response = call(app, method, path, headers={"if-none-match": header})
    assert response.status_code == status
    assert response.headers["etag"] == etag
    if status == 304:
        assert response.content == b""
        assert "content-length" not in response.headers


# -- a JSON body that names a field twice is as ambiguous as a form that does ------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"action": "accept_all", "action": "reject_all"}',
        b'{"action": "reject_all", "action": "accept_all"}',
        b'{"action": "save", "categories": [], "categories": ["marketing"]}',
        b'{"action": "accept_all", "next": "/a", "next": "/b"}',
        b'{"action": "reject_all", "\\u0061ction": "accept_all"}',  # the same key, escaped
    ],
)
def test_json_with_a_repeated_field_is_refused(tmp_path: Path, body: bytes) -> None:
    """Fixed in "endpoints: a JSON decision naming a field twice gets 400": the last one won
    silently, so `{"action": "reject_all", "action": "accept_all"}` recorded consent to
    everything while a log, a WAF or the site's own client code reading the first saw a
    refusal. The form already refused a second `action` or `next`; JSON now does too."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    response = call(
        app, "POST", "/consent", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "repeated" in response.json()["error"]
    assert "set-cookie" not in response.headers
    assert not path.exists() or path.read_text() == ""


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
