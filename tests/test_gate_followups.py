"""Follow-ups to the gate's third review: a changed decision's receipt names the one it
replaces, and `trusted_origins` lets browsers without Fetch Metadata post behind a proxy that
rewrites Host.

Each test failed before the commit that added the behaviour it pins, except those marked as
guards, which pin a decision the change must not undo.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cookiewall import ConsentMiddleware, ReceiptLog
from cookiewall.consent import ConsentCodec
from tests.support import uvicorn_server
from tests.test_cookiewall_support import (
    SECRET,
    call,
    consent_cookie,
    decide,
    make_app,
    make_policy,
    set_cookies,
)
from tests.test_origin_checks import _HostRewritingProxy

BASE_KEYS = {"id", "time", "policy_version", "granted", "action", "gpc"}
RECEIPT_ID = "PGqCeQ6hKqMfSJOo"

# -- a changed decision's receipt names the receipt it replaces ---------------------------------


def _receipts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _change(app: Any, action: str, cookie: str | None, how: str, **headers: str) -> Any:
    if cookie is not None:
        headers = {**headers, "cookie": f"cookiewall={cookie}"}
    categories = ["analytics"] if action == "save" else []
    if how == "form":
        data = {"action": action, "categories": categories, "next": "/"}
        return call(app, "POST", "/consent", data=data, headers=headers)
    body = {"action": action, "categories": categories}
    return call(app, "POST", "/consent", json=body, headers=headers)


@pytest.mark.parametrize("first", ["accept_all", "reject_all", "save"])
@pytest.mark.parametrize("then", ["accept_all", "reject_all", "save"])
@pytest.mark.parametrize("how", ["JSON", "form"])
@pytest.mark.parametrize("gpc", [False, True])
def test_changed_decision_names_the_receipt_it_replaces(
    tmp_path: Path, first: str, then: str, how: str, gpc: bool
) -> None:
    """A change of mind wrote a receipt nothing linked to the decision it replaced, so an
    auditor could not pair "accept all" with the later "reject all". It now carries
    `replaces`: the earlier receipt's (random) id, nothing about the visitor."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    extra = {"sec-gpc": "1"} if gpc else {}
    cookie = decide(app, first, ("analytics",), **extra)
    response = _change(app, then, cookie, how, **extra)
    assert response.status_code in (200, 303), response.text
    earlier, changed = _receipts(path)
    assert changed["action"] == then
    assert changed["replaces"] == earlier["id"] != changed["id"]
    assert "replaces" not in earlier  # the first decision replaced nothing
    assert set(changed) == BASE_KEYS | {"replaces"}
    # The new cookie carries the new receipt, which the next change will name.
    assert (
        call(
            app, "GET", "/consent", headers={"cookie": f"cookiewall={consent_cookie(response)}"}
        ).json()["receipt_id"]
        == changed["id"]
    )


def test_a_chain_of_changes_pairs_each_receipt_with_the_one_before(tmp_path: Path) -> None:
    """accept all -> reject all -> save -> withdraw: every receipt names its predecessor, the
    decisions in `replaces`, the withdrawal in `withdraws` (never both)."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    cookie = decide(app, "accept_all")
    for action in ("reject_all", "save"):
        cookie = consent_cookie(_change(app, action, cookie, "JSON"))
    response = call(app, "DELETE", "/consent", headers={"cookie": f"cookiewall={cookie}"})
    assert response.status_code == 200
    accepted, rejected, saved, withdrawal = _receipts(path)
    assert set(accepted) == BASE_KEYS
    assert rejected["replaces"] == accepted["id"]
    assert saved["replaces"] == rejected["id"]
    assert withdrawal["withdraws"] == saved["id"]
    assert set(withdrawal) == BASE_KEYS | {"withdraws"}


def _expired_cookie() -> str:
    codec = ConsentCodec(make_policy(), SECRET)
    long_ago = int(time.time()) - int(make_policy().consent_max_age.total_seconds()) - 10
    return codec.sign(frozenset({"analytics"}), long_ago, RECEIPT_ID)


def _other_version_cookie() -> str:
    codec = ConsentCodec(make_policy(version="an-older-policy"), SECRET)
    return codec.sign(frozenset({"analytics"}), int(time.time()), RECEIPT_ID)


def _other_key_cookie() -> str:
    codec = ConsentCodec(make_policy(), "another-site-secret-0123456789")
    return codec.sign(frozenset({"analytics"}), int(time.time()), RECEIPT_ID)


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(None, id="never decided"),
        pytest.param("garbage", id="tampered"),
        pytest.param(_expired_cookie(), id="expired"),
        pytest.param(_other_version_cookie(), id="another policy version"),
        pytest.param(_other_key_cookie(), id="signed with a key not ours"),
    ],
)
def test_a_decision_with_nothing_in_force_replaces_nothing(
    tmp_path: Path, cookie: str | None
) -> None:
    """Guard: only a valid consent cookie is a decision in force. An expired, outdated or
    forged one names nothing, even though it carries a well-formed receipt id."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    response = _change(app, "accept_all", cookie, "JSON")
    assert response.status_code == 200
    (receipt,) = _receipts(path)
    assert set(receipt) == BASE_KEYS
    assert RECEIPT_ID not in path.read_text()


def test_a_cookie_signed_with_an_older_key_still_names_its_receipt(tmp_path: Path) -> None:
    """Key rotation does not end a decision: its cookie is re-signed, its receipt paired."""
    old_key = "the-previous-secret-0123456789"
    path = tmp_path / "receipts.jsonl"
    before = make_app(secret_key=old_key, receipts=ReceiptLog(path))
    cookie = decide(before, "accept_all")
    after = make_app(secret_key=[SECRET, old_key], receipts=ReceiptLog(path))
    assert _change(after, "reject_all", cookie, "form").status_code == 303
    accepted, rejected = _receipts(path)
    assert rejected["replaces"] == accepted["id"]


def test_the_newest_of_several_consent_cookies_is_the_one_replaced(tmp_path: Path) -> None:
    """With two consent cookies in one header (two paths), the newest valid decision is the
    one in force, as everywhere else."""
    path = tmp_path / "receipts.jsonl"
    codec = ConsentCodec(make_policy(), SECRET)
    now = int(time.time())
    older = codec.sign(frozenset(), now - 100, "olderReceipt")
    newer = codec.sign(frozenset({"analytics"}), now - 10, "newerReceipt")
    app = make_app(receipts=ReceiptLog(path))
    header = f"cookiewall={older}; cookiewall={newer}"
    response = call(
        app, "POST", "/consent", json={"action": "accept_all"}, headers={"cookie": header}
    )
    assert response.status_code == 200
    (receipt,) = _receipts(path)
    assert receipt["replaces"] == "newerReceipt"


def test_replacing_receipt_holds_nothing_about_the_visitor(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/999.0"
    cookie = decide(app, "accept_all", **{"user-agent": agent})
    response = _change(app, "reject_all", cookie, "JSON", **{"user-agent": agent})
    text = path.read_text()
    for private in ("203.0.113.7", agent, cookie, consent_cookie(response)):
        assert private not in text


@pytest.mark.parametrize(
    "replaces",
    ["", "a b", "x" * 65, "1.2.3.4", "abc\n{}", "Mozilla/5.0", 'a","granted":["all"]'],
)
def test_record_refuses_a_replaces_that_is_no_receipt_id(tmp_path: Path, replaces: str) -> None:
    """`replaces` takes a receipt id (URL-safe base64), never free text that could carry an
    address or a user agent into the log, or forge a field."""
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="replaces"):
        log.record(
            receipt_id="abc",
            action="accept_all",
            policy_version="v",
            granted=[],
            gpc=False,
            replaces=replaces,
        )
    assert not log.path.exists() or log.path.read_text() == ""


def test_record_takes_replaces_only_on_a_decision(tmp_path: Path) -> None:
    """A withdrawal names the decision it ends in `withdraws`: one link, one meaning."""
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="replaces"):
        log.record(
            receipt_id="abc",
            action="withdraw",
            policy_version="v",
            granted=[],
            gpc=False,
            replaces=RECEIPT_ID,
        )
    log.record(
        receipt_id="abc",
        action="save",
        policy_version="v",
        granted=["analytics"],
        gpc=False,
        replaces=RECEIPT_ID,
    )
    (entry,) = _receipts(log.path)
    assert entry["replaces"] == RECEIPT_ID


# -- trusted_origins: browsers without Fetch Metadata behind a Host-rewriting proxy -------------
#
# nginx `proxy_pass http://app:8000;` without `proxy_set_header Host $host;`: the browser is on
# https://example.com, the app sees `Host: app:8000` over http. Safari before 16.4 sends no
# Sec-Fetch-Site, only an Origin (or a Referer).

PROXIED = "http://app:8000"
PUBLIC = "https://example.com"

_DECISIONS: dict[str, dict[str, Any]] = {
    "JSON post": {"method": "POST", "json": {"action": "accept_all"}},
    "form post": {"method": "POST", "data": {"action": "save", "categories": "analytics"}},
    "form withdrawal": {"method": "POST", "data": {"action": "withdraw", "next": "/page"}},
    "DELETE": {"method": "DELETE"},
}


def _send(app: Any, decision: str, headers: dict[str, str], base_url: str = PROXIED) -> Any:
    options = dict(_DECISIONS[decision])
    method = options.pop("method")
    return call(app, method, "/consent", headers=headers, base_url=base_url, **options)


@pytest.mark.parametrize("decision", list(_DECISIONS))
@pytest.mark.parametrize(
    ("configured", "headers"),
    [
        ((PUBLIC,), {"origin": PUBLIC}),
        ((PUBLIC,), {"referer": f"{PUBLIC}/page?q=1"}),  # no Origin: the Referer's origin
        # Written as the operator likes, compared as the browser sends it.
        (("HTTPS://Example.COM:443",), {"origin": PUBLIC}),
        (("https://example.com",), {"origin": "https://EXAMPLE.com:443"}),
        (("http://shop.example:8080",), {"origin": "http://shop.example:8080"}),
        (("https://[0:0::1]:8443",), {"origin": "https://[::1]:8443"}),
        # One of several public origins.
        (("https://www.example.org", PUBLIC), {"origin": PUBLIC}),
        # The browser says same-site (another origin of this site): the Origin decides.
        ((PUBLIC,), {"origin": PUBLIC, "sec-fetch-site": "same-site"}),
    ],
)
def test_a_trusted_origin_gets_through_behind_a_host_rewriting_proxy(
    decision: str, configured: tuple[str, ...], headers: dict[str, str]
) -> None:
    """Browsers without Fetch Metadata got 403 on every decision behind a proxy that rewrites
    Host: their Origin (https://example.com) is not the app's (http://app:8000), and
    X-Forwarded-Host is rightly never read. The operator can now name the public origin."""
    app = make_app(trusted_origins=configured)
    response = _send(app, decision, headers)
    assert response.status_code in (200, 303), response.text
    assert "cookiewall" in set_cookies(response)


@pytest.mark.parametrize("decision", list(_DECISIONS))
def test_without_trusted_origins_the_same_request_is_refused(decision: str) -> None:
    """Guard: the option is what lets it through; the default trusts no other origin."""
    response = _send(make_app(), decision, {"origin": PUBLIC})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("decision", list(_DECISIONS))
@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://example.com"},  # the scheme is part of the origin
        {"origin": "https://example.com:8443"},  # so is the port
        {"origin": "https://www.example.com"},  # a subdomain is another origin
        {"origin": "https://example.com.evil.example"},
        {"origin": "null"},
        {"origin": f"{PUBLIC}/"},  # not how a browser writes an origin
        {"referer": "https://evil.example/page"},
        {"referer": "https://user@example.com/page"},  # browsers strip credentials
        # Fetch Metadata decides first: cross-site is refused whatever the Origin says.
        {"origin": PUBLIC, "sec-fetch-site": "cross-site"},
        {"referer": f"{PUBLIC}/", "sec-fetch-site": "cross-site"},
        # Forwarding headers are still not believed: any client can send them.
        {"origin": "https://evil.example", "x-forwarded-host": "evil.example"},
        {"origin": "https://evil.example", "forwarded": "host=evil.example;proto=https"},
    ],
)
def test_other_origins_are_still_refused_with_trusted_origins(
    tmp_path: Path, decision: str, headers: dict[str, str]
) -> None:
    """Guard: a trusted origin is one more own origin, not a hole. `Sec-Fetch-Site:
    cross-site` with a trusted Origin stays 403: the browser computed it from the page that
    sent the request and the URL it posted to, so it means the page is not this site at the
    address it used (the app reached through another host name, or an origin listed by
    mistake). A browser's own word outranks the list, as it outranks the Host check."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(trusted_origins=(PUBLIC,), receipts=ReceiptLog(path))
    response = _send(app, decision, headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert not path.exists() or path.read_text() == ""


@pytest.mark.parametrize("decision", list(_DECISIONS))
def test_the_hosts_own_origin_still_passes_with_trusted_origins(decision: str) -> None:
    """Guard: the list adds to the Host-derived origin, it does not replace it."""
    app = make_app(trusted_origins=(PUBLIC,))
    response = _send(app, decision, {"origin": PROXIED})
    assert response.status_code in (200, 303)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("example.com", "http:// or https://"),
        ("ftp://example.com", "http:// or https://"),
        ("https:example.com", "http:// or https://"),
        ("null", "http:// or https://"),
        ("*", "http:// or https://"),
        ("https://example.com/", "path"),
        ("https://example.com/shop", "path"),
        ("https://example.com?x=1", "query"),
        ("https://example.com#top", "fragment"),
        ("https://user:pw@example.com", "credentials"),
        ("https://@example.com", "credentials"),
        ("https://", "host"),
        ("https://:443", "host"),
        ("https://*.example.com", "host"),
        ("https://-bad.example", "host"),
        ("https://a..example", "host"),
        ("https://[fe80::1%25eth0]", "host"),
        ("https://example.com:", "port"),
        ("https://example.com:0", "port"),
        ("https://example.com:65536", "Port"),
        ("https://example.com:+80", "Port"),
        ("https://[::1", "IPv6"),
        ("https://bücher.example", "xn--"),
        (" https://example.com", "spaces"),
        ("https://example.com\r\n", "control"),
    ],
)
def test_a_bad_trusted_origin_is_a_value_error_naming_it(entry: str, says: str) -> None:
    with pytest.raises(ValueError, match="trusted_origins") as raised:
        make_app(trusted_origins=("https://fine.example", entry))
    message = str(raised.value)
    assert repr(entry) in message
    assert says in message
    assert "\n" not in message  # one line, whatever the entry holds


@pytest.mark.parametrize("value", ["https://example.com", b"https://example.com", None])
def test_trusted_origins_must_be_a_list_of_strings(value: Any) -> None:
    """A bare string would be taken letter by letter; bytes or None are not origins."""
    entries = value if isinstance(value, str) else [value]
    with pytest.raises(ValueError, match="trusted_origins"):
        make_app(trusted_origins=entries)


def test_trusted_origins_accepts_any_iterable_once() -> None:
    """A generator is read once, at construction, like the other options."""
    app = make_app(trusted_origins=(o for o in [PUBLIC, "https://www.example.com"]))
    assert isinstance(app, ConsentMiddleware)
    for origin in (PUBLIC, "https://www.example.com"):
        assert _send(app, "JSON post", {"origin": origin}).status_code == 200


# uvicorn imports this (tests.test_gate_followups:proxied_trusted) itself.
proxied_trusted = _HostRewritingProxy(make_app(trusted_origins=(PUBLIC,)))


def test_trusted_origin_over_a_real_server() -> None:
    """The whole path through uvicorn: an older browser's form post with only an Origin."""
    with uvicorn_server("tests.test_gate_followups:proxied_trusted") as (base, _):
        form = {"action": "accept_all", "next": "/page"}
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            good = client.post("/consent", data=form, headers={"origin": PUBLIC})
            bad = client.post("/consent", data=form, headers={"origin": "https://evil.example"})
    assert good.status_code == 303
    assert good.headers["location"] == "/page"
    assert "cookiewall" in set_cookies(good)
    assert bad.status_code == 403
    assert "set-cookie" not in bad.headers
