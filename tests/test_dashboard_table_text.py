"""The dashboard's tables show visitor-supplied names (paths, campaign tags) with control and
bidi-format characters as escapes, as the report's table and chart do.

Before, they were only HTML-escaped: a path or campaign tag holding U+202E (RIGHT-TO-LEFT
OVERRIDE) showed reversed in the overview's tables and in a referrer's pages (`/gpj.exe`
read as `/exe.jpg`), and an ESC character reached the page. Real warehouse, real ASGI app.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from analytics.dashboard import dashboard
from tests.dashboard_support import PASSWORD, USER, client
from tests.warehouse_support import HOSTILE_TEXTS, hostile_text_warehouse

RANGE = {"from": "2026-03-02", "to": "2026-03-02"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_text_warehouse(
        tmp_path_factory.mktemp("dashboard-text"),
        "utm_campaign",
        referrer_host="ref.example",
        referrer_domain="ref.example",
        referrer_medium="referral",
    )


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
@pytest.mark.parametrize("name", list(HOSTILE_TEXTS))
def test_tables_escape_control_and_bidi_characters(
    db: Path, page: str, params: dict[str, str], name: str
) -> None:
    html = get(db, page, params)
    raw = HOSTILE_TEXTS[name]
    escaped = raw.encode("unicode_escape").decode("ascii")
    assert raw not in html
    assert f'<td class="key">/{escaped}</td>' in html  # the page's row
    if page == "/":
        assert f'<td class="key">(none) / (none) / {escaped}</td>' in html  # the campaign
