"""A refusal of `analytics` is not forgotten when the policy gets a new version. The new
version asks every visitor again (the banner shows, only required cookies pass), but a
visitor whose signed cookie refused analytics under the old version gets no visitor hash until
they decide again: SPEC 4.1, "only an explicit refusal of analytics, GPC or DNT removes the
hash", and the refusal is held in a verified cookie. A data-protection audit found such
visitors hashed again after every policy change. A visitor who accepted under the old
version is undecided and hashed, as every undecided visitor is; one who decides under the new
version is counted by that decision. The application sees the refusal as `Consent.refused`.

Real Recorders and spools, the gate and recorder stacked as README says, through httpx."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, Policy
from tests.recording_support import SITE, spooled

ORIGIN = f"https://{SITE}"
BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "accept": "text/html",
    "origin": ORIGIN,
}
KEY = "key-0123456789abcdef0123456789abcdef"
CATEGORIES = [
    Category("necessary", required=True, description="The site cannot work without these."),
    Category("analytics", description="Count visits."),
    Category("preferences", description="Remember choices."),
]
SEEN: list[Any] = []


async def page(request: Request) -> HTMLResponse:
    SEEN.append(request.state.consent)
    return HTMLResponse("<!doctype html><html><body><p>page</p></body></html>")


def stack(version: str, recorder: Recorder) -> Any:
    policy = Policy(version=version, categories=CATEGORIES)
    app = TrafficMiddleware(Starlette(routes=[Route("/p", page)]), recorder=recorder)
    return ConsentMiddleware(app, policy=policy, secret_key=KEY)


def decide(app: Any, body: dict[str, Any]) -> str:
    async def go() -> str:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=BROWSER) as c:
            answer = await c.post("/consent", json=body)
            assert answer.status_code == 200, answer.text
            return c.cookies["cookiewall"]

    return asyncio.run(go())


def views(app: Any, cookie: str | None, times: int = 2) -> None:
    async def go() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        cookies = {"cookiewall": cookie} if cookie else None
        async with httpx.AsyncClient(
            transport=transport, base_url=ORIGIN, headers=BROWSER, cookies=cookies
        ) as c:
            for _ in range(times):  # the first verifies the cookie, the next hits the cache
                assert (await c.get("/p")).status_code == 200

    asyncio.run(go())


@pytest.fixture
def recorder(tmp_path: Path) -> Any:
    recorder = Recorder(tmp_path / "spool", SITE)
    yield recorder
    recorder.close()


def rows(recorder: Recorder) -> list[tuple[str, bool]]:
    return [(row["consent"], row["visitor_id"] is not None) for row in spooled(recorder)]


@pytest.mark.parametrize(
    ("old_decision", "hashed_under_the_new_version"),
    [
        ({"action": "reject_all"}, False),
        ({"action": "save", "categories": ["preferences"]}, False),
        ({"action": "save", "categories": ["analytics"]}, True),
        ({"action": "accept_all"}, True),
    ],
)
def test_a_refusal_under_the_old_version_still_withholds_the_hash(
    recorder: Recorder, old_decision: dict[str, Any], hashed_under_the_new_version: bool
) -> None:
    cookie = decide(stack("2026-11-28", recorder), old_decision)
    SEEN.clear()
    views(stack("2026-12-24", recorder), cookie)
    # Asked again: undecided for the gate (and the recorder's `consent` field), twice, on
    # the first request (the cookie verified) and the next (the codec's cache).
    assert rows(recorder) == [("undecided", hashed_under_the_new_version)] * 2
    assert [consent.decided for consent in SEEN] == [False, False]
    refused = {"analytics"} if not hashed_under_the_new_version else set()
    assert all(refused <= consent.refused for consent in SEEN)
    assert all(consent.granted == {"necessary"} for consent in SEEN)


def test_a_decision_under_the_new_version_counts_again(recorder: Recorder) -> None:
    refusal = decide(stack("2026-11-28", recorder), {"action": "reject_all"})
    new_site = stack("2026-12-24", recorder)
    views(new_site, refusal, times=1)

    async def accept_again() -> None:
        transport = httpx.ASGITransport(app=new_site, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url=ORIGIN, headers=BROWSER, cookies={"cookiewall": refusal}
        ) as c:
            assert (await c.post("/consent", json={"action": "accept_all"})).status_code == 200
            assert (await c.get("/p")).status_code == 200

    asyncio.run(accept_again())
    assert rows(recorder) == [("undecided", False), ("all", True)]


def test_no_decision_at_all_is_hashed_and_refuses_nothing(recorder: Recorder) -> None:
    SEEN.clear()
    views(stack("2026-12-24", recorder), None)
    assert rows(recorder) == [("undecided", True)] * 2
    assert [consent.refused for consent in SEEN] == [frozenset(), frozenset()]


def test_a_decided_consent_names_what_it_refused(recorder: Recorder) -> None:
    cookie = decide(stack("2026-11-28", recorder), {"action": "save", "categories": ["analytics"]})
    SEEN.clear()
    views(stack("2026-11-28", recorder), cookie, times=1)
    assert SEEN[0].decided
    assert SEEN[0].refused == {"preferences"}


# A category new in this version was never offered: no refusal of it to remember.

OLD_CATEGORIES = [c for c in CATEGORIES if c.name != "analytics"]


def old_stack(recorder: Recorder) -> Any:
    policy = Policy(version="2026-11-28", categories=OLD_CATEGORIES)
    app = TrafficMiddleware(Starlette(routes=[Route("/p", page)]), recorder=recorder)
    return ConsentMiddleware(app, policy=policy, secret_key=KEY)


@pytest.mark.parametrize("action", ["accept_all", "reject_all"])
def test_a_category_the_old_version_did_not_offer_is_not_refused(
    recorder: Recorder, action: str
) -> None:
    cookie = decide(old_stack(recorder), {"action": action})
    SEEN.clear()
    views(stack("2026-12-24", recorder), cookie)
    assert rows(recorder) == [("undecided", True)] * 2
    refused = {"preferences"} if action == "reject_all" else set()
    assert [consent.refused for consent in SEEN] == [refused, refused]


def test_a_cookie_from_before_refusals_were_signed_errs_on_the_visitors_side(
    recorder: Recorder,
) -> None:
    # 0.2.0 signed no "n": every category the decision did not grant counts as refused,
    # also one its version did not have (the visitor is asked again either way).
    from cookiewall.consent import ConsentCodec

    old_policy = Policy(version="2026-11-28", categories=OLD_CATEGORIES)
    legacy = ConsentCodec(old_policy, KEY).sign(frozenset({"preferences"}), int(time.time()), "r1")
    SEEN.clear()
    views(stack("2026-12-24", recorder), legacy)
    assert rows(recorder) == [("undecided", False)] * 2
    assert [consent.refused for consent in SEEN] == [{"analytics"}, {"analytics"}]
