"""Campaign tags are credited to an arrival, not to a page posting a form back to itself.

Without JavaScript, the consent banner's form answers 303 to the page it was on, its query
string (the campaign's tags) included, and the browser loads it again with that very URL as
its Referer. Any post/redirect/get form does the same. That second load is a pageview, still
counted, but not a second arrival from the campaign: `daily_campaigns` counted two.
"""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.capture import Capture
from analytics.warehouse import Warehouse
from cookiewall import ConsentMiddleware
from tests.test_capture import CHROME, convert
from tests.test_cookiewall_support import SECRET, make_policy

ORIGIN = "http://example.com"
TAGS = "utm_source=news&utm_medium=email&utm_campaign=launch"
NOON = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _capture(path: str, query: bytes, referer: bytes | None) -> Capture:
    return Capture(NOON, path, "GET", 200, query, referer, CHROME, None, None, "undecided", False)


@pytest.mark.parametrize(
    ("path", "query", "referer", "tagged"),
    [
        ("/p", TAGS.encode(), b"https://www.google.com/", True),  # the arrival
        ("/p", TAGS.encode(), b"http://example.com/p?" + TAGS.encode(), False),  # itself again
        ("/p", TAGS.encode(), b"https://example.com/p?" + TAGS.encode(), False),
        ("/caf\u00e9", b"ref=x", b"https://example.com/caf%C3%A9?ref=x", False),  # encoded path
        ("/p", TAGS.encode(), b"https://example.com/other?" + TAGS.encode(), True),  # a link
        ("/p", TAGS.encode(), b"https://example.com/p?utm_source=other", True),  # other tags
        ("/p", TAGS.encode(), b"https://example.com/p", True),  # Referrer-Policy cut the query
        ("/p", TAGS.encode(), b"https://mirror.example.net/p?" + TAGS.encode(), True),  # elsewhere
        ("/p", b"", b"https://example.com/p?", False),  # no tags to keep or drop
    ],
)
def test_only_a_page_naming_itself_loses_its_tags(
    path: str, query: bytes, referer: bytes, tagged: bool
) -> None:
    arrival = _capture("/p", TAGS.encode(), b"https://www.google.com/")
    rows = convert([arrival, _capture(path, query, referer)]).table.to_pylist()
    assert rows[0]["utm_source"] == "news"  # the batch's other rows keep theirs
    has_tags = any(rows[1][f"utm_{tag}"] for tag in ("source", "medium", "campaign"))
    assert has_tags == tagged
    assert len(rows) == 2  # still a pageview


async def _page(request: Request) -> Response:
    return HTMLResponse("<!doctype html><html><body><h1>Launch</h1></body></html>")


def test_a_no_javascript_consent_decision_credits_the_campaign_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    recorder = Recorder(spool, site="example.com", clock=lambda: NOON)
    app = Starlette(
        routes=[Route("/landing", _page)],
        middleware=[
            Middleware(
                ConsentMiddleware, policy=make_policy(), secret_key=SECRET, inject_banner=True
            ),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    page_url = f"{ORIGIN}/landing?{TAGS}"

    async def visit() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        browser = {"user-agent": CHROME.decode()}  # httpx's own is a bot's: not counted
        async with httpx.AsyncClient(
            transport=transport, base_url=ORIGIN, headers=browser
        ) as client:
            page = await client.get(page_url, headers={"referer": "https://www.google.com/"})
            found = re.search(r'name="next" value="([^"]*)"', page.text)
            assert found, "the banner's no-JavaScript form carries the page to return to"
            next_path = html.unescape(found.group(1))
            assert next_path == f"/landing?{TAGS}"
            decided = await client.post(
                "/consent",
                data={"action": "accept_all", "next": next_path},
                headers={"origin": ORIGIN, "referer": page_url},
            )
            assert decided.status_code == 303
            again = await client.get(decided.headers["location"], headers={"referer": page_url})
            assert again.status_code == 200

    asyncio.run(visit())
    recorder.close()
    events = pq.read_table(sorted(spool.rglob("*.parquet"))).to_pylist()
    landing = [event for event in events if event["path"] == "/landing"]
    assert [(e["referrer_medium"], e["utm_campaign"]) for e in landing] == [
        ("search", "launch"),
        ("internal", None),
    ]
    db = tmp_path / "wh.duckdb"
    Warehouse(db, clock=lambda: NOON).run(spool)
    with duckdb.connect(str(db), read_only=True) as con:
        campaigns = con.execute(
            "SELECT utm_source, utm_campaign, pageviews, visitors FROM daily_campaigns"
        ).fetchall()
        pages = con.execute("SELECT pageviews FROM daily_pages WHERE path = '/landing'").fetchall()
    assert campaigns == [("news", "launch", 1, 1)]
    assert pages == [(2,)]  # both loads are pageviews


def test_an_odd_path_fails_its_own_row_not_the_batch() -> None:
    odd = _capture("/p", TAGS.encode(), b"http://example.com/p?" + TAGS.encode())
    # Not text: the path lookup fails this row.
    odd = odd._replace(path=b"/p")  # type: ignore[arg-type]
    arrival = _capture("/p", TAGS.encode(), b"https://www.google.com/")
    converted = convert([arrival, odd])
    assert converted.failed == 1
    assert [row["utm_campaign"] for row in converted.table.to_pylist()] == ["launch"]
