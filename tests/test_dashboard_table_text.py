"""The dashboard's tables show visitor-supplied names (paths, campaign tags) with control and
bidi-format characters as escapes, as the report's table and chart do.

Before, they were only HTML-escaped: a path or campaign tag holding U+202E (RIGHT-TO-LEFT
OVERRIDE) showed reversed in the overview's tables and in a referrer's pages (`/gpj.exe`
read as `/exe.jpg`), and an ESC character reached the page. Real warehouse, real ASGI app.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from analytics.dashboard import dashboard
from analytics.warehouse import Warehouse
from tests.dashboard_support import PASSWORD, USER, client
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

RANGE = {"from": "2026-03-02", "to": "2026-03-02"}
HOSTILE = {
    "rlo": "\u202egpj.exe",
    "escape": "\x1b[31mred",
    "line-separator": "a\u2028b",
    "zero-width": "x\u200by",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dashboard-text")
    events = [
        DIRECT_VISIT._replace(
            ts=datetime(2026, 3, 2, 12, index, visitor, tzinfo=UTC),
            visitor_id=visitor,
            path="/" + text,
            utm_campaign=text,
            referrer_host="ref.example",
            referrer_domain="ref.example",
            referrer_medium="referral",
        )
        for index, text in enumerate(HOSTILE.values())
        for visitor in range(2)
    ]
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


def get(db: Path, path: str, params: dict[str, str]) -> str:
    async def call() -> httpx.Response:
        async with client(dashboard(db, basic=(USER, PASSWORD))) as http:
            response: httpx.Response = await http.get(path, params=params)
            return response

    response = asyncio.run(call())
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("page", "params"),
    [("/", RANGE), ("/referrer", {**RANGE, "referrer": "ref.example"})],
    ids=["overview", "referrer"],
)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_tables_escape_control_and_bidi_characters(
    db: Path, page: str, params: dict[str, str], name: str
) -> None:
    html = get(db, page, params)
    raw = HOSTILE[name]
    escaped = raw.encode("unicode_escape").decode("ascii")
    assert raw not in html
    assert f'<td class="key">/{escaped}</td>' in html  # the page's row
    if page == "/":
        assert f'<td class="key">(none) / (none) / {escaped}</td>' in html  # the campaign
