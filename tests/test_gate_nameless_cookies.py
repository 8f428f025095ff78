"""A nameless Set-Cookie (`=ad_id=123`) is judged by the name a browser sends it back under.

Browsers store `Set-Cookie: =ad_id=123` as a cookie with an empty name and the value
`ad_id=123`, and send it back as `Cookie: ad_id=123`, which every server reads as the
cookie `ad_id`. With `unknown_cookies="allow"` such a header passed as an undeclared cookie:
a marketing cookie set for a visitor who refused marketing. It now passes only when both
readings allow it: as an unknown cookie, and as the declared cookie it is sent back as.
"""

from __future__ import annotations

from typing import Any

import pytest

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, call, decide, make_policy

NO_MARKETING = ("necessary", "preferences", "analytics")


def _gate(
    unknown_cookies: str, set_cookies: list[bytes], public: bool = False
) -> ConsentMiddleware:
    async def site(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain")]
        if public:
            headers.append((b"cache-control", b"public, max-age=60"))
        headers += [(b"set-cookie", value) for value in set_cookies]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    policy = make_policy(unknown_cookies=unknown_cookies)
    return ConsentMiddleware(site, policy=policy, secret_key=SECRET)


def _kept(gate: ConsentMiddleware, cookie: str | None) -> list[str]:
    headers = {"cookie": f"cookiewall={cookie}"} if cookie else None
    return call(gate, "GET", "/", headers=headers).headers.get_list("set-cookie")


@pytest.mark.parametrize(
    ("header", "choice", "passes"),
    [
        # sent back as ad_id (marketing), _ga_1 (analytics), theme (preferences)
        ("=ad_id=123", None, False),
        ("=ad_id=123; Path=/", NO_MARKETING, False),
        (" = ad_id=123", NO_MARKETING, False),
        ("=ad_id=123", "accept_all", True),
        ("=_ga_1=GA1.2.3", "reject_all", False),
        ("=_ga_1=GA1.2.3", ("analytics",), True),
        ("=theme=dark", None, False),
        ("=theme=dark", ("preferences",), True),
        # sent back as a necessary or an undeclared cookie, or as a bare value: unknown
        ("=session=abc", None, True),
        ("=stray=1", None, True),
        ("=justavalue", None, True),
        # a deletion always passes
        ("=ad_id=; Max-Age=0", None, True),
    ],
)
def test_with_unknown_cookies_allowed(header: str, choice: Any, passes: bool) -> None:
    gate = _gate("allow", [header.encode()])
    if choice is None:
        cookie = None
    elif isinstance(choice, str):
        cookie = decide(gate, choice)
    else:
        cookie = decide(gate, "save", choice)
    assert (header in _kept(gate, cookie)) is passes


@pytest.mark.parametrize("header", ["=ad_id=123", "=session=abc", "=theme=dark", "=stray=1"])
def test_with_unknown_cookies_blocked_a_nameless_cookie_stays_unknown(header: str) -> None:
    gate = _gate("block", [header.encode()])
    assert _kept(gate, decide(gate, "accept_all")) == []


def test_the_removal_is_counted_under_the_name_it_is_sent_back_as() -> None:
    gate = _gate("allow", [b"=ad_id=123"])
    assert _kept(gate, decide(gate, "reject_all")) == []
    assert gate.removed_by_name == {"ad_id": 1}


def test_a_public_response_whose_nameless_cookie_depends_on_consent_is_made_private() -> None:
    gate = _gate("allow", [b"=ad_id=123"], public=True)
    response = call(
        gate, "GET", "/", headers={"cookie": f"cookiewall={decide(gate, 'accept_all')}"}
    )
    assert response.headers.get_list("set-cookie") == ["=ad_id=123"]
    assert "public" not in response.headers["cache-control"]
    assert "private" in response.headers["cache-control"]
