"""Session ids carried in the path: they are a cookie's value written into the URL.

Servlet containers rewrite URLs with a `;jsessionid=` matrix parameter for visitors without
cookies, PHP with `;PHPSESSID=`, and ASP.NET's cookieless sessions put the id in a segment of
its own, `/(S(lit3py55t21z5v55vlm25s55))/`. The token rule caught them only when the id
happened to look random enough: a 24-character ASP.NET id (base32, lower case) passed it about
one time in five, and a short or lower-case `jsessionid` always did. The id goes whatever the
value looks like, since its name says what it is: the parameter (name and value) is dropped
and the page kept, a cookieless segment dropped whole (it redacted the whole segment before
0.6.0; see tests/test_path_session_parameter_dropped.py).
"""

from __future__ import annotations

import random

import pytest

from analytics.paths import redact_path

ASPNET_ALPHABET = "abcdefghijklmnopqrstuvwxyz012345"  # ASP.NET's SessionIDManager (base32)


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/shop;jsessionid=abc123def456", "/shop"),
        ("/shop/cart;JSESSIONID=a1b2c3", "/shop/cart"),
        ("/index.php;PHPSESSID=k3jf8sl2", "/index.php"),
        ("/page;sid=a8f3k2/next", "/page/next"),
        ("/page;session_id=x1/next", "/page/next"),
        ("/(S(lit3py55t21z5v55vlm25s55))/default.aspx", "/default.aspx"),
        ("/(S(abcdefghijklmnopqrstuvwx))/default.aspx", "/default.aspx"),
        ("/(X(1)S(abcdefghijklmnopqrstuvwx))/a.aspx", "/a.aspx"),
        ("/app/(A(short)F(ticket))/a.aspx", "/app/a.aspx"),
    ],
)
def test_session_ids_in_the_path_are_dropped(path: str, stored: str) -> None:
    assert redact_path(path) == stored


def test_every_random_aspnet_session_id_is_dropped() -> None:
    chooser = random.Random(71)
    for _ in range(500):
        session = "".join(chooser.choice(ASPNET_ALPHABET) for _ in range(24))
        assert redact_path(f"/(S({session}))/default.aspx") == "/default.aspx"


@pytest.mark.parametrize(
    "path",
    [
        "/matrix;color=red;size=10",  # matrix parameters that name no session
        "/inside;inside=yes",  # `sid` inside another word
        "/wiki/Python_(programming_language)",
        "/wiki/C_(S)",
        "/music/(S)ex-(S)ex",
        "/sessions/2026/keynote",  # the word alone, no parameter
        "/docs/session-management",
    ],
)
def test_readable_segments_stay(path: str) -> None:
    assert redact_path(path) == path
