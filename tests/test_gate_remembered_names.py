"""The gate remembers the category of each declared Set-Cookie name it has seen, and a
remembered name skips the header's other tests: it must never let through a header that only
looks like it.

`Set-Cookie: theme` (no '=') is a nameless cookie whose value is `theme` (RFC 6265 5.2), not
the declared `theme`; `Set-Cookie: theme; Path=/` (its first '=' after a ';') is one too. With
`unknown_cookies="block"` both are removed whatever the visitor allows, also after a real
`theme=dark` taught the gate the name.
"""

from __future__ import annotations

from typing import Any

import pytest

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, call, decide, make_policy


def _gate() -> ConsentMiddleware:
    async def site(scope: Any, receive: Any, send: Any) -> None:
        # The path names the Set-Cookie value to send: /theme=dark sends `theme=dark`.
        value = scope["path"].lstrip("/").encode()
        headers = [(b"content-type", b"text/plain"), (b"set-cookie", value)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return ConsentMiddleware(site, policy=make_policy(unknown_cookies="block"), secret_key=SECRET)


def _set_cookies(gate: ConsentMiddleware, cookie: str, value: str) -> list[str]:
    response = call(gate, "GET", f"/{value}", headers={"cookie": f"cookiewall={cookie}"})
    assert response.status_code == 200
    return response.headers.get_list("set-cookie")


@pytest.mark.parametrize("lookalike", ["theme", "theme; Path=/", "theme;x=1"])
def test_a_remembered_name_without_its_equals_sign_is_still_a_nameless_cookie(
    lookalike: str,
) -> None:
    gate = _gate()
    cookie = decide(gate, "accept_all")
    assert _set_cookies(gate, cookie, "theme=dark") == ["theme=dark"]  # the name is remembered
    assert _set_cookies(gate, cookie, lookalike) == []
    assert _set_cookies(gate, cookie, "theme=light") == ["theme=light"]


def test_a_remembered_name_still_follows_the_visitors_choice() -> None:
    gate = _gate()
    everything = decide(gate, "accept_all")
    assert _set_cookies(gate, everything, "theme=dark") == ["theme=dark"]
    assert _set_cookies(gate, decide(gate, "reject_all"), "theme=dark") == []
    assert _set_cookies(gate, everything, "theme=dark") == ["theme=dark"]
