"""A cookie pattern that an earlier pattern of any form covers whole is refused.

Only an earlier `prefix*` was detected. `ad_*_id` (marketing) after `*_id` (analytics), or
`_ga_*` after `_g?*` or `[_]ga*`, was accepted, and the later rule never applied: with
analytics granted and marketing refused, the app's `ad_x_id` passed as analytics, and a
withdrawal expired it without the later rule's domain or path. What is checked: every
name the later pattern can match is matched by one earlier pattern (a union of several
earlier patterns is not worked out).
"""

from __future__ import annotations

import asyncio
import fnmatch
import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cookiewall import Category, ConsentMiddleware, CookieRule, Policy
from cookiewall.policy import covers

CATEGORIES = [Category("necessary", required=True), Category("analytics"), Category("marketing")]


def policy(earlier: str, later: str) -> Policy:
    return Policy(
        "1",
        CATEGORIES,
        [CookieRule(earlier, "analytics"), CookieRule(later, "marketing")],
    )


COVERED = [
    ("*_id", "ad_*_id"),
    ("_g?*", "_ga_*"),
    ("[_]ga*", "_ga_*"),
    ("_g[a-c]*", "_gb*"),
    ("[!x]*", "ad*"),
    ("_ga*x", "_ga_*x"),
    ("*a*", "*a*a*"),
    ("?*", "x?*"),
    ("*", "[ab]"),
    ("a?c", "a[xy]c"),
    ("[a-z]*", "[b-d]x*"),
    ("[!0-9]*", "[!0-9a]*"),
    ("*", "x[!a]"),
    ("_ga*", "_ga_ABC*"),  # the `prefix*` form still refused
]


@pytest.mark.parametrize(("earlier", "later"), COVERED)
def test_a_pattern_an_earlier_one_covers_is_refused_naming_both(earlier: str, later: str) -> None:
    with pytest.raises(ValueError, match="can never match") as refused:
        policy(earlier, later)
    message = str(refused.value)
    assert f"cookie rule {later!r} can never match" in message
    assert f"the earlier pattern {earlier!r}" in message


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("a*b", "a*bc"),  # ends differently
        ("_ga*", "*_id"),  # overlap only in part: `_ga_id`
        ("_g?", "_ga*"),
        ("[a-c]*", "[a-d]*"),
        ("[!x]*", "[!y]*"),  # `x1` is the later one's
        ("x[!a]", "x?"),
        ("*x", "x*"),
        ("?", "??"),
        ("ad_*_id", "*_id"),  # the specific one first
        ("[!0-9a]*", "[!0-9]*"),
    ],
)
def test_a_pattern_with_names_of_its_own_is_accepted(earlier: str, later: str) -> None:
    made = policy(earlier, later)
    assert [rule.pattern for rule in made.cookies] == [earlier, later]


def test_covered_but_with_the_same_effect_is_accepted() -> None:
    made = Policy(
        "1",
        CATEGORIES,
        [CookieRule("*_id", "analytics"), CookieRule("ad_*_id", "analytics", purpose="ads")],
    )
    assert len(made.cookies) == 2


# -- the check never claims more than fnmatch does --------------------------------------------

_PIECE = st.sampled_from(["a", "b", "_", "?", "*", "[ab]", "[!a]", "[a-c]", "[!0-9]", "0"])
_PATTERN = st.lists(_PIECE, min_size=1, max_size=5).map("".join)
_NAME = st.text(alphabet="ab_c0x\u00e9", max_size=7)


@settings(max_examples=300, deadline=None)
@given(earlier=_PATTERN, later=_PATTERN, names=st.lists(_NAME, max_size=30))
def test_when_covers_says_so_every_later_name_matches_the_earlier(
    earlier: str, later: str, names: list[str]
) -> None:
    if not covers(earlier, later):
        return
    wider = re.compile(fnmatch.translate(earlier)).match
    narrower = re.compile(fnmatch.translate(later)).match
    for name in names:
        if narrower(name):
            assert wider(name), (earlier, later, name)


# -- end to end: the cookie the later rule declared no longer slips through -------------------


async def _set_cookie(request: Request) -> Response:
    response = PlainTextResponse("ok")
    response.set_cookie("ad_x_id", "1")
    return response


def test_the_refusal_is_at_construction_not_a_leak_at_run_time() -> None:
    # What the refused policy did: with analytics granted and marketing refused, the
    # marketing cookie `ad_x_id` passed under the earlier analytics rule.
    with pytest.raises(ValueError, match="can never match"):
        policy("*_id", "ad_*_id")
    # The order that works: the specific rule first, and the cookie is gated as marketing.
    fixed = Policy(
        "1",
        CATEGORIES,
        [CookieRule("ad_*_id", "marketing"), CookieRule("*_id", "analytics")],
    )
    app = ConsentMiddleware(
        Starlette(routes=[Route("/", _set_cookie)]), policy=fixed, secret_key="k" * 32
    )

    async def run() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            decided = await client.post(
                "/consent", json={"action": "save", "categories": ["analytics"]}
            )
            assert decided.status_code == 200
            page = await client.get("/")
            return page.headers.get_list("set-cookie")

    assert not any(h.startswith("ad_x_id=") for h in asyncio.run(run()))
