"""Planted consent-cookie copies do not crowd out the visitor's own decision.

The gate verifies at most `MAX_CONSENT_VALUES` (16) consent values per request: each costs a
signature check. Browsers send cookies longest path first (then oldest first), and the gate
writes its own copy at the site's path, the shortest one sent. A sibling subdomain can plant
copies with `Domain=<parent>` at every path above a deep page (`/a`, `/a/`, `/a/b`, ...): at
16 or more of them, the gate read only planted values and never the visitor's. The visitor
was undecided on every such page (banner, optional cookies stripped), and when the planted
values were bad, the first page's clear at the site's path deleted the visitor's own cookie
from the browser: their choice was gone.

Now the values are read from the end of the header (the site's path first), each distinct
value once; a value the codec verified before, or one the gate cleared before as bad, costs
no signature check; and the bound counts the checks, not the values read.

The browser is modelled by the standard library's cookie jar (it sends longest paths first),
as in `tests/test_bad_consent_cookie_cleared_once.py`; hand-built headers in browser order
measure the cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from http.cookiejar import Cookie
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware, consent, middleware
from cookiewall.consent import ConsentCodec
from tests.apps.full_stack_app import SECRETS, make_policy

HOST = "www.shop.example"
NAME = "cookiewall"
DEPTH = 9
PAGE = "".join(f"/p{level}" for level in range(DEPTH))  # /p0/p1/.../p8
# Every path above PAGE a planted copy can sit at (with and without the trailing slash):
# 2 * DEPTH - 1 = 17 of them, all longer than the gate's own Path=/.
PLANTED_PATHS = [
    path
    for level in range(1, DEPTH + 1)
    for path in (PAGE.rsplit("/", DEPTH - level)[0], PAGE.rsplit("/", DEPTH - level)[0] + "/")
    if path != PAGE + "/"
]


def _forged(value: str, number: int) -> str:
    payload, _, signature = value.rpartition(".")
    return f"{payload}.{str(number).rjust(len(signature), 'A')}"


def _minted(number: int, now: int) -> str:
    """The attacker's own genuine decision, made before the visitor's."""
    codec = ConsentCodec(make_policy(), SECRETS[0])
    value, _ = codec.new_decision(frozenset(), now=now - 3600 + number)
    return value


# What the sibling plants at each path: the number is the copy's index.
PLANTINGS: dict[str, Callable[[str, int, int], str]] = {
    "one garbage value": lambda own, number, now: "garbage",
    "distinct garbage": lambda own, number, now: f"garbage-{number}",
    "forged signatures": lambda own, number, now: _forged(own, number),
    "older genuine decisions": lambda own, number, now: _minted(number, now),
}


async def page(request: Request) -> Response:
    return PlainTextResponse(request.state.consent.summary)


def _gate() -> ConsentMiddleware:
    app = Starlette(routes=[Route("/{rest:path}", page)])
    return ConsentMiddleware(app, policy=make_policy(), secret_key=SECRETS)


def _planted(value: str, path: str) -> Cookie:
    return Cookie(
        version=0, name=NAME, value=value, port=None, port_specified=False,
        domain=".shop.example", domain_specified=True, domain_initial_dot=True, path=path,
        path_specified=True, secure=False, expires=int(time.time()) + 3600, discard=False,
        comment=None, comment_url=None, rest={}, rfc2109=False,
    )  # fmt: skip


def _consent_set_cookies(response: httpx.Response) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.split("=", 1)[0] == NAME]


def test_the_paths_outnumber_the_bound() -> None:
    assert len(PLANTED_PATHS) == len(set(PLANTED_PATHS)) > middleware.MAX_CONSENT_VALUES
    assert all(PAGE.startswith(path) for path in PLANTED_PATHS)


@pytest.mark.parametrize("forget", [False, True], ids=["same worker", "another worker"])
@pytest.mark.parametrize("planting", PLANTINGS)
def test_the_visitors_decision_counts_on_a_page_crowded_with_planted_copies(
    planting: str, forget: bool
) -> None:
    """`another worker`: the visitor decided in another process, so this gate's codec has
    never seen their value and must verify it among the planted ones."""
    gate = _gate()
    now = int(time.time())

    async def go() -> tuple[list[httpx.Response], list[tuple[str, str]], str, str]:
        transport = httpx.ASGITransport(app=gate, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            decided = await client.post(
                "/consent", json={"action": "save", "categories": ["analytics"]}
            )
            assert decided.status_code == 200
            own = decided.cookies[NAME]
            for number, path in enumerate(PLANTED_PATHS):
                client.cookies.jar.set_cookie(_planted(PLANTINGS[planting](own, number, now), path))
            if forget:
                gate.codec._cache.clear()
            responses = [await client.get(PAGE) for _ in range(3)]
            left = [(c.domain, c.path) for c in client.cookies.jar if c.value == own]
            header = responses[0].request.headers["cookie"]
            return responses, left, own, header

    responses, left, own, header = asyncio.run(go())
    # The browser's order: every planted copy before the visitor's own, at Path=/.
    assert header.endswith(f"{NAME}={own}")
    assert header.count(f"{NAME}=") == len(PLANTED_PATHS) + 1
    assert [r.text for r in responses] == ["custom"] * 3
    assert all(_consent_set_cookies(r) == [] for r in responses)
    assert left == [(HOST, "/")]  # the visitor's decision is still in the browser


def _call(gate: ConsentMiddleware, cookie: str) -> tuple[str, list[Any]]:
    scope = {
        "type": "http", "method": "GET", "path": PAGE, "raw_path": PAGE.encode(),
        "query_string": b"", "scheme": "http", "root_path": "",
        "headers": [(b"host", HOST.encode()), (b"cookie", cookie.encode())],
    }  # fmt: skip
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(gate(scope, receive, send))
    return b"".join(m.get("body", b"") for m in sent).decode(), sent


@pytest.mark.parametrize("planted", [17, 180, 2000])
def test_the_cost_stays_bounded_and_the_visitors_decision_is_found(planted: int) -> None:
    """A hand-built header in browser order: distinct forged values first, the visitor's own
    last. Each request makes at most MAX_CONSENT_VALUES signature checks, and fewer once the
    planted values are known."""
    gate = _gate()
    own, _ = ConsentCodec(make_policy(), SECRETS[0]).new_decision(frozenset({"analytics"}))
    cookie = "; ".join([*(f"{NAME}={_forged(own, n)}" for n in range(planted)), f"{NAME}={own}"])
    checks = []
    for _ in range(3):
        before = gate.verifications
        summary, _ = _call(gate, cookie)
        assert summary == "custom"
        checks.append(gate.verifications - before)
    assert all(count <= middleware.MAX_CONSENT_VALUES for count in checks)
    assert checks[0] >= 1  # the visitor's own, never seen by this gate


def _clears(sent: list[Any]) -> int:
    return sum(1 for key, _ in sent[0]["headers"] if key == b"set-cookie")


def test_values_that_cannot_be_tokens_are_read_at_once_and_cleared_once() -> None:
    """Garbage without a signature costs no check: all 180 are read, and cleared once."""
    gate = _gate()
    cookie = "; ".join(f"{NAME}=garbage-{n}" for n in range(180))
    answers = [_call(gate, cookie) for _ in range(3)]
    assert [summary for summary, _ in answers] == ["undecided"] * 3
    assert [_clears(sent) > 0 for _, sent in answers] == [True, False, False]
    assert gate.verifications == 0
    assert gate.stats["bad_cookies"] == 3


def test_forged_values_alone_are_read_a_bound_at_a_time_then_never_cleared_again() -> None:
    """Forged tokens each cost a check: 180 are read over 12 requests (16 new ones each, the
    known ones skipped), each of those sends the clear once more, and then no request does."""
    gate = _gate()
    own, _ = ConsentCodec(make_policy(), SECRETS[0]).new_decision(frozenset())
    cookie = "; ".join(f"{NAME}={_forged(own, n)}" for n in range(180))
    rounds = -(-180 // middleware.MAX_CONSENT_VALUES)
    cleared, checks = [], []
    for _ in range(rounds + 3):
        before = gate.verifications
        summary, sent = _call(gate, cookie)
        assert summary == "undecided"
        cleared.append(_clears(sent) > 0)
        checks.append(gate.verifications - before)
    assert cleared == [True] * rounds + [False] * 3
    assert checks == [16] * (rounds - 1) + [180 - 16 * (rounds - 1), 0, 0, 0]


@pytest.mark.parametrize("planted", [1, 17, 180])
def test_planted_values_beside_a_valid_decision_are_checked_once(planted: int) -> None:
    """Beside the visitor's valid decision nothing is cleared, so the gate's memory of cleared
    values never learnt the planted ones: each page checked 16 of them again (~300 us for 180
    forged tokens, on every page of that visitor). A value whose signature or payload is bad
    stays bad under the same keys and policy: the codec remembers it (by hash, bounded)."""
    gate = _gate()
    own, _ = ConsentCodec(make_policy(), SECRETS[0]).new_decision(frozenset({"analytics"}))
    cookie = "; ".join([*(f"{NAME}={_forged(own, n)}" for n in range(planted)), f"{NAME}={own}"])
    checks = []
    for _ in range(-(-planted // middleware.MAX_CONSENT_VALUES) + 3):
        before = gate.verifications
        summary, sent = _call(gate, cookie)
        assert summary == "custom"
        assert _clears(sent) == 0
        checks.append(gate.verifications - before)
    assert sum(checks) == planted + 1  # each value checked once, the visitor's own included
    assert checks[-3:] == [0, 0, 0]


def test_a_single_bad_value_is_checked_once() -> None:
    gate = _gate()
    own, _ = ConsentCodec(make_policy(), SECRETS[0]).new_decision(frozenset())
    for _ in range(5):
        summary, _ = _call(gate, f"{NAME}={_forged(own, 7)}")
        assert summary == "undecided"
    assert gate.verifications == 1


def test_the_memory_of_rejected_values_is_bounded() -> None:
    codec = ConsentCodec(make_policy(), SECRETS[0])
    own, _ = codec.new_decision(frozenset())
    for number in range(consent.CACHE_SIZE + 10):
        assert codec.verify(_forged(own, number)) is None
    assert len(codec._rejected) == consent.CACHE_SIZE
    before = codec.verifications
    assert codec.verify(_forged(own, 0)) is None  # forgotten first: checked again
    assert codec.verify(_forged(own, consent.CACHE_SIZE + 9)) is None  # remembered
    assert codec.verifications == before + 1
