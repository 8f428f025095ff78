"""The gate remembers the consent value of a Cookie header it has seen: never at the cost of a
wrong answer (expiry, GPC, key rotation, a value the codec forgot) and never without bound."""

from __future__ import annotations

import time

import pytest

from cookiewall.middleware import _KEPT_HEADERS, _MAX_KEPT_HEADER
from tests.test_cookiewall_support import call, consent_cookie, decide, make_app, set_cookies


def _state(app: object, cookie: str, **headers: str) -> dict[str, object]:
    response = call(app, "GET", "/state", headers={"cookie": cookie, **headers})
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


def test_a_returning_visitors_header_is_remembered_and_answers_the_same() -> None:
    app = make_app()
    cookie = f"session=abc; cookiewall={decide(app, 'accept_all')}; theme=dark"
    first = _state(app, cookie)
    assert app._value_by_header == {cookie.encode(): cookie.split("cookiewall=")[1].split(";")[0]}
    for _ in range(3):
        assert _state(app, cookie) == first
    assert first["summary"] == "all"


def test_expiry_is_checked_on_every_request_of_a_remembered_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    cookie = f"cookiewall={decide(app, 'accept_all')}"
    assert _state(app, cookie)["decided"] is True
    assert cookie.encode() in app._value_by_header
    later = time.time() + 181 * 86400
    monkeypatch.setattr("cookiewall.consent.time.time", lambda: later)
    response = call(app, "GET", "/state", headers={"cookie": cookie})
    assert response.json()["decided"] is False
    assert consent_cookie(response) == ""  # the expired cookie is cleared, as without the memo


def test_gpc_still_decides_per_request_for_one_remembered_header() -> None:
    app = make_app()
    cookie = f"cookiewall={decide(app, 'accept_all')}"
    assert "marketing" in _state(app, cookie)["granted"]  # type: ignore[operator]
    with_gpc = _state(app, cookie, **{"sec-gpc": "1"})
    assert "marketing" not in with_gpc["granted"]  # type: ignore[operator]
    assert with_gpc["gpc"] is True
    assert "marketing" in _state(app, cookie)["granted"]  # type: ignore[operator]


def test_a_value_the_codec_forgot_is_verified_again() -> None:
    app = make_app()
    cookie = f"cookiewall={decide(app, 'save', ('analytics',))}"
    assert _state(app, cookie)["summary"] == "custom"
    app.codec._cache.clear()  # evicted by 4,096 newer visitors, say
    verified = app.codec.verifications
    assert _state(app, cookie)["summary"] == "custom"
    assert app.codec.verifications == verified + 1


def test_a_remembered_header_under_a_rotated_key_is_resigned() -> None:
    old_key, new_key = "old-secret-key-0123456789abcdef", "new-secret-key-0123456789abcdef"
    app = make_app(secret_key=[new_key, old_key])
    cookie = f"cookiewall={decide(make_app(secret_key=old_key), 'accept_all')}"
    for _ in range(2):  # the second request finds the header remembered (if it was)
        response = call(app, "GET", "/state", headers={"cookie": cookie})
        assert response.json()["summary"] == "all"
        assert consent_cookie(response) not in ("", cookie.split("=", 1)[1])  # re-signed


@pytest.mark.parametrize(
    "cookie",
    [
        "cookiewall=junk",  # a bad value: cleared, never remembered
        "cookiewall=a; cookiewall=b",  # two values: the careful path each time
        "xcookiewall=1",  # no consent cookie at all
    ],
)
def test_headers_without_one_valid_consent_value_are_not_remembered(cookie: str) -> None:
    app = make_app()
    _state(app, cookie)
    assert app._value_by_header == {}


def test_the_memo_is_bounded_in_entries_and_header_length() -> None:
    app = make_app()
    value = decide(app, "accept_all")
    long_cookie = f"cookiewall={value}; filler={'x' * _MAX_KEPT_HEADER}"
    assert _state(app, long_cookie)["decided"] is True
    assert app._value_by_header == {}  # too long to keep: found each time instead
    for index in range(_KEPT_HEADERS + 50):
        app._keep_header(f"n{index}=1; cookiewall={value}".encode(), value)
    assert len(app._value_by_header) == _KEPT_HEADERS
    assert f"n{_KEPT_HEADERS + 49}=1; cookiewall={value}".encode() in app._value_by_header
    assert b"n0=1; cookiewall=" + value.encode() not in app._value_by_header  # oldest went first


def test_a_remembered_header_gates_set_cookie_as_before() -> None:
    app = make_app()
    cookie = f"cookiewall={decide(app, 'save', ('analytics',))}"
    for _ in range(2):
        response = call(app, "GET", "/", headers={"cookie": cookie})
        assert set(set_cookies(response)) == {"session", "_ga_123"}
