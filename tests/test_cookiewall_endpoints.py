"""Every row of SPEC 3.3 over HTTP: consent state, decisions, withdrawal, banner, declaration."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cookiewall import Category, CookieRule, ReceiptLog
from tests.test_cookiewall_support import (
    VERSION,
    call,
    consent_cookie,
    decide,
    make_app,
    make_policy,
    receipt_of,
    set_cookies,
)

ALL = ["analytics", "marketing", "necessary", "preferences"]


def test_get_consent_undecided_state() -> None:
    response = call(make_app(), "GET", "/consent")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["decided"] is False
    assert body["granted"] == ["necessary"]
    assert body["policy_version"] == VERSION
    assert body["gpc"] is False
    assert body["categories"][0] == {
        "name": "necessary",
        "description": "The site needs these.",
        "required": True,
    }
    assert [c["name"] for c in body["categories"]] == [
        "necessary",
        "preferences",
        "analytics",
        "marketing",
    ]
    # The answer depends on the visitor's cookie: no shared cache may keep it.
    assert "Cookie" in response.headers["vary"]
    assert "private" in response.headers["cache-control"]


@pytest.mark.parametrize(
    ("action", "categories", "granted"),
    [
        ("accept_all", (), ALL),
        ("reject_all", (), ["necessary"]),
        ("save", ("analytics",), ["analytics", "necessary"]),
        ("save", ("analytics", "preferences"), ["analytics", "necessary", "preferences"]),
        ("save", (), ["necessary"]),
        ("save", ("necessary",), ["necessary"]),
        ("accept_all", ("analytics",), ALL),
        ("reject_all", ("analytics",), ["necessary"]),
    ],
)
def test_post_json_decisions(action: str, categories: tuple[str, ...], granted: list[str]) -> None:
    app = make_app()
    response = call(
        app, "POST", "/consent", json={"action": action, "categories": list(categories)}
    )
    assert response.status_code == 200
    assert response.json()["decided"] is True
    assert response.json()["granted"] == granted
    cookie = set_cookies(response)["cookiewall"]
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=15552000"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http
    # The cookie carries the decision to the next request.
    value = consent_cookie(response)
    state = call(app, "GET", "/consent", headers={"cookie": f"cookiewall={value}"}).json()
    assert state["decided"] is True
    assert state["granted"] == granted


@pytest.mark.parametrize(
    ("action", "categories", "granted"),
    [
        ("accept_all", [], ALL),
        ("reject_all", [], ["necessary"]),
        ("save", ["marketing"], ["marketing", "necessary"]),
    ],
)
def test_post_form_decisions_redirect(
    action: str, categories: list[str], granted: list[str]
) -> None:
    app = make_app()
    response = call(
        app,
        "POST",
        "/consent",
        data={"action": action, "categories": categories, "next": "/blog/post?id=3"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/blog/post?id=3"
    value = consent_cookie(response)
    state = call(app, "GET", "/consent", headers={"cookie": f"cookiewall={value}"}).json()
    assert state["granted"] == granted


def test_form_without_next_goes_home() -> None:
    response = call(make_app(), "POST", "/consent", data={"action": "reject_all"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_secure_cookie_over_https() -> None:
    response = call(
        make_app(), "POST", "/consent", json={"action": "accept_all"}, base_url="https://testserver"
    )
    assert "Secure" in set_cookies(response)["cookiewall"]


@pytest.mark.parametrize("secure", [True, False])
def test_secure_option_overrides_scheme(secure: bool) -> None:
    response = call(make_app(secure=secure), "POST", "/consent", json={"action": "accept_all"})
    assert ("Secure" in set_cookies(response)["cookiewall"]) is secure


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/", "/"),
        ("/page", "/page"),
        ("/a/b?c=d&e=f#top", "/a/b?c=d&e=f#top"),
        ("//evil.example", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("/ok\\..\\x", "/"),
        ("https://evil.example/", "/"),
        ("http://testserver/page", "/"),
        ("javascript:alert(1)", "/"),
        ("JaVaScRiPt:alert(1)", "/"),
        ("data:text/html,hi", "/"),
        ("evil.example", "/"),
        ("", "/"),
        ("/page\r\nSet-Cookie: evil=1", "/"),
        ("/page\nLocation: https://evil.example", "/"),
        ("/page\x00", "/"),
        ("/page\t", "/"),
        ("/with space", "/with%20space"),  # a decoded path: encoded as browsers send it
        ("/caf\u00e9", "/caf%C3%A9"),
        ("/" + "a" * 3000, "/"),
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),  # a path on this site, not a host
    ],
)
def test_next_only_same_site_relative(next_value: str, location: str) -> None:
    response = call(
        make_app(), "POST", "/consent", data={"action": "accept_all", "next": next_value}
    )
    assert response.status_code == 303
    assert response.headers["location"] == location
    # Header injection: the response carries exactly one Set-Cookie, ours.
    assert list(set_cookies(response)) == ["cookiewall"]


def test_json_answers_200_whatever_next_says() -> None:
    response = call(
        make_app(), "POST", "/consent", json={"action": "accept_all", "next": "//evil.example"}
    )
    assert response.status_code == 200
    assert "location" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "http://testserver:8080"},
        {"origin": "https://testserver"},  # another scheme is another origin
        {"origin": "null"},
        {"origin": ""},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "Cross-Site"},
        {"origin": "http://testserver", "sec-fetch-site": "cross-site"},
    ],
)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_cross_site_refused_and_nothing_changes(headers: dict[str, str], method: str) -> None:
    app = make_app()
    value = decide(app, "reject_all")
    receipts_before = app.endpoints.receipts
    assert receipts_before is None
    body: dict[str, Any] = {"data": {"action": "accept_all"}} if method == "POST" else {}
    response = call(
        app,
        method,
        "/consent",
        headers={**headers, "cookie": f"cookiewall={value}; theme=dark; _ga_1=x"},
        **body,
    )
    assert response.status_code == 403
    assert response.json() == {"error": "cross-site request refused"}
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "http://testserver"},
        {"origin": "http://testserver:80"},
        {"origin": "HTTP://TESTSERVER"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "none"},
        {"origin": "http://testserver", "sec-fetch-site": "same-origin"},
    ],
)
def test_same_origin_posts_accepted(headers: dict[str, str]) -> None:
    response = call(make_app(), "POST", "/consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == 200


def test_origin_with_port_matches_host_with_port() -> None:
    response = call(
        make_app(),
        "POST",
        "/consent",
        json={"action": "accept_all"},
        headers={"origin": "https://shop.example:8443"},
        base_url="https://shop.example:8443",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{", 400),
        ("application/json", b"", 400),
        ("application/json", b"[]", 400),
        ("application/json", b'"accept_all"', 400),
        ("application/json", b"null", 400),
        ("application/json", b"{}", 400),
        ("application/json", b'{"action": 1}', 400),
        ("application/json", b'{"action": null}', 400),
        ("application/json", b'{"action": "accept_everything"}', 400),
        ("application/json", b'{"action": "save", "categories": "analytics"}', 400),
        ("application/json", b'{"action": "save", "categories": [1]}', 400),
        ("application/json", b'{"action": "save", "categories": [["analytics"]]}', 400),
        ("application/json", b'{"action": "save", "categories": ["spying"]}', 400),
        ("application/json", b'{"action": "save", "categories": ["Analytics"]}', 400),
        ("application/json", b'{"action": "save", "next": 5}', 400),
        ("application/json", b'{"action": "save"', 400),
        ("application/json", b"\xff\xfe{}", 400),
        ("application/json", b"[" * 100_000, 413),
        ("application/json", b"[" * 50_000 + b"]" * 50_000, 413),
        ("application/json", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400),
        ("application/json", b"[" * 20_000 + b"]" * 20_000, 400),
        ("application/x-www-form-urlencoded", b"", 400),
        ("application/x-www-form-urlencoded", b"action=nope", 400),
        ("application/x-www-form-urlencoded", b"action=save&action=accept_all", 400),
        ("application/x-www-form-urlencoded", b"action=save&next=/a&next=/b", 400),
        ("application/x-www-form-urlencoded", b"action=%ff", 400),
        ("application/x-www-form-urlencoded", b"\xff=\xfe", 400),
        ("application/x-www-form-urlencoded", b"&".join([b"x=1"] * 200), 400),
        ("application/x-www-form-urlencoded", b"action=accept_all&" + b"p" * 70_000, 413),
        ("text/plain", b"action=accept_all", 415),
        ("multipart/form-data; boundary=x", b"--x--", 400),  # no fields at all
        ("", b"action=accept_all", 415),
    ],
)
def test_malformed_bodies_change_nothing(content_type: str, body: bytes, status: int) -> None:
    app = make_app()
    headers = {"content-type": content_type} if content_type else {}
    response = call(app, "POST", "/consent", content=body, headers=headers)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)
    assert "set-cookie" not in response.headers


def test_bad_content_length_refused() -> None:
    app = make_app()
    response = call(
        app,
        "POST",
        "/consent",
        content=b"x" * 10,
        headers={"content-type": "application/json", "content-length": str(10**9)},
    )
    assert response.status_code == 413


def test_json_with_unknown_keys_is_fine() -> None:
    response = call(make_app(), "POST", "/consent", json={"action": "accept_all", "extra": {}})
    assert response.status_code == 200


def test_form_with_charset_parameter() -> None:
    response = call(
        make_app(),
        "POST",
        "/consent",
        content=b"action=reject_all",
        headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/consent"),
        ("PATCH", "/consent"),
        ("OPTIONS", "/consent"),
        ("POST", "/consent/banner"),
        ("DELETE", "/consent/cookies"),
        ("POST", "/.well-known/gpc.json"),
        ("POST", "/consent/static/banner.css"),
    ],
)
def test_wrong_methods_405(method: str, path: str) -> None:
    response = call(make_app(), method, path)
    assert response.status_code == 405
    assert "allow" in response.headers


@pytest.mark.parametrize(
    "path", ["/consent", "/consent/banner", "/consent/cookies", "/.well-known/gpc.json"]
)
def test_head_has_no_body(path: str) -> None:
    response = call(make_app(), "HEAD", path)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_delete_withdraws_and_deletes_registered_cookies_where_they_live() -> None:
    app = make_app()
    value = decide(app, "accept_all")
    cookie = f"cookiewall={value}; session=s; theme=dark; _ga_123=g; _ga=x; ad_id=1; stray=z"
    response = call(app, "DELETE", "/consent", headers={"cookie": cookie})
    assert response.status_code == 200
    assert response.json()["decided"] is False
    sent = response.headers.get_list("set-cookie")
    deleted = {h.split("=", 1)[0] for h in sent}
    # session is necessary, stray matches no rule: both stay.
    assert deleted == {"cookiewall", "theme", "_ga_123", "_ga", "ad_id"}
    for header in sent:
        assert "Max-Age=0" in header
        assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in header
    ad = [h for h in sent if h.startswith("ad_id=")]
    # At its registered path, and, carried here, where it lives: a path enclosing /consent.
    assert ad == [
        f"ad_id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path={path}"
        for path in ("/shop", "/")
    ]
    ga = sorted(h for h in sent if h.startswith("_ga_123="))
    # The registered domain, and the host-only variant a Domain= deletion would miss.
    assert any("Domain=.example.com" in h for h in ga)
    assert any("Domain" not in h for h in ga)
    # Afterwards the visitor is asked again.
    state = call(app, "GET", "/consent").json()
    assert state["decided"] is False


def test_post_withdraw_form_redirects_and_clears() -> None:
    app = make_app()
    value = decide(app, "accept_all")
    response = call(
        app,
        "POST",
        "/consent",
        data={"action": "withdraw", "next": "/privacy"},
        headers={"cookie": f"cookiewall={value}; theme=dark"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/privacy"
    # ad_id (Path=/shop) never reaches /consent: expired whether carried or not.
    assert set(set_cookies(response)) == {"cookiewall", "theme", "ad_id"}


def test_withdraw_ignores_names_that_are_not_tokens() -> None:
    app = make_app()
    response = call(app, "DELETE", "/consent", headers={"cookie": "_ga x=1; _ga,y=2; theme=1"})
    assert set(set_cookies(response)) == {"cookiewall", "theme", "ad_id"}  # ad_id: Path=/shop


def test_banner_endpoint_is_private_html() -> None:
    response = call(make_app(), "GET", "/consent/banner?next=/shop")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Cookie" in response.headers["vary"]
    assert "private" in response.headers["cache-control"]
    assert 'name="next" value="/shop"' in response.text
    assert "<form" in response.text


def test_banner_endpoint_rejects_foreign_next() -> None:
    response = call(make_app(), "GET", "/consent/banner?next=//evil.example")
    assert 'value="//evil.example"' not in response.text
    assert 'name="next" value="/"' in response.text


def test_cookie_declaration_json() -> None:
    app = make_app()
    call(app, "GET", "/?set=stray&set=other_thing")
    response = call(app, "GET", "/consent/cookies")
    assert response.status_code == 200
    data = response.json()
    assert data["policy_version"] == VERSION
    assert data["consent_cookie"]["name"] == "cookiewall"
    by_name = {c["name"]: c for c in data["categories"]}
    assert by_name["analytics"]["cookies"] == [
        {"name": "_ga*", "purpose": "Google Analytics", "domain": ".example.com", "path": "/"}
    ]
    assert by_name["marketing"]["gpc_opt_out"] is True
    assert data["undeclared"] == ["other_thing", "stray"]


def test_cookie_declaration_html_escapes_everything() -> None:
    policy = make_policy(
        version="<v1>",
        cookies=[CookieRule("theme", "preferences", purpose="<script>alert(1)</script>")],
    )
    app = make_app(policy=policy)
    response = call(app, "GET", "/consent/cookies?format=html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<table" in response.text
    assert "&lt;v1&gt;" in response.text
    assert "<v1>" not in response.text
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<td>theme</td>" in response.text


def test_cookie_declaration_bad_format() -> None:
    response = call(make_app(), "GET", "/consent/cookies?format=xml")
    assert response.status_code == 400


def test_gpc_well_known() -> None:
    response = call(make_app(), "GET", "/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"gpc": True, "lastUpdate": VERSION}


def test_gpc_well_known_without_a_date() -> None:
    response = call(make_app(policy=make_policy(version="v7")), "GET", "/.well-known/gpc.json")
    assert response.json() == {"gpc": True}


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/consent/static/banner.css", "text/css; charset=utf-8"),
        ("/consent/static/banner.js", "text/javascript; charset=utf-8"),
    ],
)
def test_static_files_cached_long(path: str, content_type: str) -> None:
    app = make_app()
    response = call(app, "GET", path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert "max-age=31536000" in response.headers["cache-control"]
    etag = response.headers["etag"]
    again = call(app, "GET", path, headers={"if-none-match": etag})
    assert again.status_code == 304


def test_custom_prefix_and_cookie_name() -> None:
    app = make_app(path_prefix="/privacy/consent", cookie_name="cw")
    assert call(app, "GET", "/consent").status_code == 404  # now the app's
    response = call(app, "POST", "/privacy/consent", json={"action": "accept_all"})
    assert response.status_code == 200
    value = consent_cookie(response, "cw")
    state = call(app, "GET", "/state", headers={"cookie": f"cw={value}"}).json()
    assert state["summary"] == "all"
    banner = call(app, "GET", "/privacy/consent/banner").text
    assert 'action="/privacy/consent"' in banner


def test_receipts_written_for_every_decision(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    app = make_app(receipts=log)
    response = call(app, "POST", "/consent", json={"action": "save", "categories": ["analytics"]})
    value = consent_cookie(response)
    call(app, "POST", "/consent", json={"action": "accept_all"}, headers={"sec-gpc": "1"})
    call(app, "POST", "/consent", data={"action": "reject_all"})
    call(app, "DELETE", "/consent", headers={"cookie": f"cookiewall={value}"})
    lines = [json.loads(line) for line in (tmp_path / "receipts.jsonl").read_text().splitlines()]
    assert [entry["action"] for entry in lines] == ["save", "accept_all", "reject_all", "withdraw"]
    assert lines[0]["granted"] == ["analytics", "necessary"]
    assert lines[1]["gpc"] is True
    assert lines[3]["granted"] == ["necessary"]
    # The receipt id is in the cookie, so a visitor's cookie matches its receipt.
    assert receipt_of(value) == lines[0]["id"]
    # The withdrawal names the receipt of the decision it ended (the cookie it was sent).
    assert lines[3]["withdraws"] == lines[0]["id"]
    for entry in lines:
        linked = {"withdraws"} if entry["action"] == "withdraw" else set()
        assert set(entry) == {"id", "time", "policy_version", "granted", "action", "gpc"} | linked
        assert entry["time"].endswith("Z")
    text = (tmp_path / "receipts.jsonl").read_text()
    assert "203.0.113.7" not in text
    assert value not in text


def test_withdrawal_deletes_prefixed_cookies_in_a_form_browsers_accept() -> None:
    # __Secure- needs Secure, __Host- also Path=/ and no Domain, or the browser ignores the
    # deletion and the cookie stays. The app sees plain http here (a TLS proxy in front).
    policy = make_policy(
        cookies=[
            CookieRule("__Secure-ads", "marketing", domain=".example.com"),
            CookieRule("__Host-prefs", "preferences"),
            CookieRule("__host-lower", "preferences"),
        ]
    )
    app = make_app(policy=policy)
    value = decide(app, "accept_all")
    cookie = f"cookiewall={value}; __Secure-ads=1; __Host-prefs=2; __host-lower=3"
    sent = call(app, "DELETE", "/consent", headers={"cookie": cookie}).headers.get_list(
        "set-cookie"
    )
    ads = [h for h in sent if h.startswith("__Secure-ads=")]
    assert len(ads) == 2  # the registered domain, and host-only
    assert all("; Secure" in h for h in ads)
    for name in ("__Host-prefs", "__host-lower"):
        [host] = [h for h in sent if h.startswith(f"{name}=")]
        assert "; Secure" in host
        assert "Path=/" in host
        assert "Domain" not in host
    # An ordinary name keeps the request's scheme: no Secure over http.
    consent = [h for h in sent if h.startswith("cookiewall=")]
    assert consent
    assert all("Secure" not in h for h in consent)


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/consent/banner?next=/pricing", "Cookies on this site"),
        ("/consent/cookies?format=html", f"Cookies (policy version {VERSION})"),
    ],
)
def test_a_browser_opening_an_html_endpoint_gets_a_whole_page(url: str, title: str) -> None:
    app = make_app()
    fragment = call(app, "GET", url)
    page = call(app, "GET", url, headers={"sec-fetch-dest": "document"})
    # Included by a server or fetched by a script: the bare fragment, as before.
    assert not fragment.text.startswith("<!doctype html>")
    # Opened by a browser (a link to it): a page with a language, a title and a main landmark.
    assert page.text.startswith('<!doctype html><html lang="en">')
    assert f"<title>{title}</title>" in page.text
    assert f"<main><h1>{title}</h1>" in page.text
    assert fragment.text in page.text
    for response in (fragment, page):
        assert "Sec-Fetch-Dest" in response.headers["vary"]


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


_ACCEPT: dict[str, Any] = {"action": "accept_all"}


# -- the declaration's lifetime under a day -----------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "days", "seconds"),
    [
        (timedelta(days=180), 180, 15_552_000),
        (timedelta(days=395), 395, 34_128_000),
        (timedelta(days=1), 1, 86_400),
        (timedelta(hours=12), 0.5, 43_200),
        (timedelta(hours=1), 0.05, 3_600),  # 0.0417 days, rounded up: never understated
        (timedelta(minutes=30), 0.03, 1_800),
        (timedelta(seconds=1), 0.01, 1),
        (timedelta(days=1, hours=12), 1.5, 129_600),
        (timedelta(days=30, seconds=1), 30.01, 2_592_001),
    ],
)
def test_the_declaration_states_the_consent_lifetime_truthfully(
    lifetime: timedelta, days: float, seconds: int
) -> None:
    app = make_app(policy=make_policy(consent_max_age=lifetime))
    declared = call(app, "GET", "/consent/cookies").json()["consent_cookie"]
    assert declared["max_age_days"] == days
    assert declared["max_age_days"] > 0
    assert declared["max_age_seconds"] == seconds
    # What the declaration says is what the browser is told.
    decision = call(app, "POST", "/consent", json=_ACCEPT)
    assert f"Max-Age={seconds};" in decision.headers["set-cookie"] + ";"


def test_whole_days_stay_an_integer_for_existing_readers() -> None:
    body = call(make_app(), "GET", "/consent/cookies").text
    assert '"max_age_days": 180,' in body


def test_a_declaration_without_a_required_category_still_states_the_lifetime() -> None:
    policy = make_policy(
        categories=[Category("analytics")], cookies=[], consent_max_age=timedelta(hours=6)
    )
    declared = call(make_app(policy=policy), "GET", "/consent/cookies").json()["consent_cookie"]
    assert (declared["max_age_days"], declared["max_age_seconds"]) == (0.25, 21_600)
