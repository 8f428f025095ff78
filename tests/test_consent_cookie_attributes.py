"""The consent cookie's own attributes: a `__Host-`/`__Secure-` name gives a cookie browsers
store, `SameSite=None` is always Secure, Max-Age is the consent lifetime to the second, and
lifetimes or sizes browsers cannot keep are refused when the gate is made."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette
from starlette.routing import Mount

from cookiewall import Category, Policy
from cookiewall.consent import SALT
from tests.test_cookiewall_support import (
    SECRET,
    VERSION,
    call,
    decide,
    make_app,
    make_policy,
    set_cookies,
)

# -- a __Host-/__Secure- consent cookie name gives a cookie browsers store ----------------------

OLD_SECRET = "an-older-secret-key-0123456789ab"


def _attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in parts)}


def _prefixed(name: str, **options: Any) -> Starlette:
    gate = make_app(cookie_name=name, **options)
    return Starlette(routes=[Mount("/shop", app=gate), Mount("/", app=gate)])


@pytest.mark.parametrize("name", ["__Host-consent", "__Secure-consent", "__host-consent"])
@pytest.mark.parametrize("where", ["", "/shop"])
@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_prefixed_consent_cookie_is_one_browsers_store(
    name: str, where: str, base_url: str
) -> None:
    """RFC 6265bis cookie prefixes: a browser drops a `__Secure-` cookie without Secure and a
    `__Host-` one unless it also has Path=/ and no Domain. Over http (the app behind a TLS
    proxy) the consent cookie had no Secure, and under a mount it had Path=/shop: the
    visitor's decision was never stored and the banner came back on every page."""
    host = _prefixed(name)
    response = call(
        host, "POST", f"{where}/consent", json={"action": "accept_all"}, base_url=base_url
    )
    assert response.status_code == 200
    attributes = _attributes(set_cookies(response)[name])
    assert "secure" in attributes
    if name.lower().startswith("__host-"):
        assert attributes["path"] == "/"
        assert "domain" not in attributes
    else:
        assert attributes["path"] == (where or "/")
    # The decision is read back where the browser sends it.
    value = set_cookies(response)[name].split(";", 1)[0].split("=", 1)[1]
    state = call(host, "GET", f"{where}/consent", headers={"cookie": f"{name}={value}"})
    assert state.json()["decided"] is True


@pytest.mark.parametrize("name", ["__Host-consent", "__Secure-consent"])
def test_prefixed_consent_cookie_is_secure_when_re_signed_and_cleared(name: str) -> None:
    old = make_app(cookie_name=name, secret_key=OLD_SECRET)
    value = set_cookies(call(old, "POST", "/consent", json={"action": "reject_all"}))[name]
    value = value.split(";", 1)[0].split("=", 1)[1]
    rotated = make_app(cookie_name=name, secret_key=[SECRET, OLD_SECRET])
    resigned = call(rotated, "GET", "/state", headers={"cookie": f"{name}={value}"})
    assert "secure" in _attributes(set_cookies(resigned)[name])
    cleared = call(rotated, "GET", "/state", headers={"cookie": f"{name}=tampered"})
    assert "secure" in _attributes(set_cookies(cleared)[name])


@pytest.mark.parametrize("name", ["__Host-consent", "__Secure-consent", "__SECURE-x"])
def test_prefixed_consent_cookie_name_with_secure_false_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="Secure"):
        make_app(cookie_name=name, secure=False)


# -- consent ends when the browser drops the cookie ---------------------------------------------


@pytest.mark.parametrize(("offset", "decided"), [(-1, True), (0, False), (1, False)])
@pytest.mark.parametrize("cached", [True, False])
def test_consent_is_over_at_exactly_its_max_age(
    monkeypatch: pytest.MonkeyPatch, offset: int, decided: bool, cached: bool
) -> None:
    """The cookie has Max-Age = consent_max_age, and a browser drops it once that moment is
    reached (RFC 6265 5.3: expiry-time = now + delta; Chromium: expired when now >= expiry).
    The gate still took it as a decision for that last second (age > max_age, not >=)."""
    start = 1_900_000_000.0
    monkeypatch.setattr("cookiewall.consent.time.time", lambda: start)
    app = make_app()
    value = decide(app, "accept_all")
    later = start + app.codec.max_age + offset
    monkeypatch.setattr("cookiewall.consent.time.time", lambda: later)
    reader = app if cached else make_app()
    state = call(reader, "GET", "/state", headers={"cookie": f"cookiewall={value}"}).json()
    assert state["decided"] is decided


@pytest.mark.parametrize(
    "max_age", [timedelta(milliseconds=500), timedelta(microseconds=1), timedelta(seconds=0.999)]
)
def test_a_consent_lifetime_under_a_second_is_refused(max_age: timedelta) -> None:
    """Max-Age is whole seconds: timedelta(milliseconds=500) became 'Max-Age=0', so every
    consent cookie the gate set was a deletion and no visitor could ever decide."""
    with pytest.raises(ValueError, match="consent_max_age"):
        make_policy(consent_max_age=max_age)


def test_a_one_second_consent_lifetime_still_sets_a_cookie() -> None:
    app = make_app(policy=make_policy(consent_max_age=timedelta(seconds=1)))
    response = call(app, "POST", "/consent", json={"action": "accept_all"})
    assert "Max-Age=1;" in set_cookies(response)["cookiewall"]


def _old_key_cookie() -> str:
    """A valid decision signed with the older of two rotated keys (so it is re-signed)."""
    payload = {"v": VERSION, "g": ["analytics"], "t": int(time.time()) - 60, "r": "receipt-1"}
    value = URLSafeSerializer(OLD_SECRET.encode(), salt=SALT).dumps(payload)
    assert isinstance(value, str)
    return value


# -- SameSite=None cookies are Secure whatever the scheme the app sees ---------------------------


@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_same_site_none_consent_cookie_is_always_secure(base_url: str) -> None:
    """Browsers reject 'SameSite=None' without 'Secure'. Behind a TLS proxy the app sees
    http, so with secure=None (the default) the consent cookie was refused by the browser and
    the visitor was asked again on every page."""
    app = make_app(same_site="none")
    response = call(app, "POST", "/consent", json={"action": "accept_all"}, base_url=base_url)
    header = set_cookies(response)["cookiewall"]
    assert "SameSite=None" in header
    assert "; Secure" in header
    # The re-signed cookie after a key rotation too.
    rotated = make_app(same_site="none", secret_key=[SECRET, OLD_SECRET])
    again = call(rotated, "GET", "/state", headers={"cookie": f"cookiewall={_old_key_cookie()}"})
    resigned = set_cookies(again)["cookiewall"]
    assert "SameSite=None" in resigned
    assert "; Secure" in resigned


# -- configuration errors are ValueErrors -------------------------------------------------------


@pytest.mark.parametrize("days", [10**9, 10**10, -(10**10), 2**63])
def test_absurd_consent_max_age_days_is_a_value_error(days: int, tmp_path: Path) -> None:
    """timedelta(days=10**10) raised OverflowError: a traceback instead of the clear message."""
    toml = tmp_path / "cookiewall.toml"
    toml.write_text(
        f'version = "v1"\nconsent_max_age_days = {days}\n'
        '[[categories]]\nname = "necessary"\nrequired = true\n'
    )
    with pytest.raises(ValueError, match="consent_max_age"):
        Policy.from_toml(toml)


# -- a policy whose consent cookie browsers would not keep -----------------------------------

# Browsers keep a cookie only while its name and value stay within 4096 bytes (RFC 6265bis
# 5.6; Chromium, Firefox): a longer consent cookie is dropped without a word, so the visitor
# is asked again on every page and no decision ever holds. The policy version and the
# category names travel in it.


def _categories(count: int, length: int) -> list[Category]:
    names = [f"c{i:03d}{secrets.token_hex(length)}"[:length] for i in range(count)]
    return [Category("necessary", required=True), *(Category(n) for n in names)]


@pytest.mark.parametrize(
    "overrides",
    [
        {"version": secrets.token_urlsafe(3200)},  # e.g. the privacy page's text as its version
        {"version": "v" * 3100},  # fits today only because it compresses: not every choice will
        {"categories": _categories(60, 64)},
    ],
    ids=["long-random-version", "long-compressible-version", "sixty-long-categories"],
)
def test_a_policy_whose_consent_cookie_is_too_long_is_refused(overrides: dict[str, Any]) -> None:
    policy = make_policy(**overrides, cookies=[])
    with pytest.raises(ValueError, match="4096") as raised:
        make_app(policy=policy)
    assert "version" in str(raised.value)
    assert "category names" in str(raised.value)


def test_the_cookie_name_counts_towards_the_limit() -> None:
    policy = make_policy(version="v" * 2920)
    make_app(policy=policy)  # fits
    with pytest.raises(ValueError, match="4096"):
        make_app(policy=policy, cookie_name="c" * 64)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"version": secrets.token_urlsafe(1500)}, {"categories": _categories(20, 64)}],
    ids=["usual", "long-version", "twenty-long-categories"],
)
def test_guard_a_policy_that_fits_keeps_every_decision(overrides: dict[str, Any]) -> None:
    """What construction lets through, browsers keep: accept all (the longest) is under 4096
    and is read back as decided."""
    app = make_app(policy=make_policy(**overrides, cookies=[]))
    value = decide(app, "accept_all")
    assert len("cookiewall=" + value) <= 4096
    state = call(app, "GET", "/consent", headers={"cookie": f"cookiewall={value}"}).json()
    assert state["decided"] is True
    assert state["summary"] == "all"
