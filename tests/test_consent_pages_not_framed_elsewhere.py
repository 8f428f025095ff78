"""The gate's HTML pages (the banner with its decision forms, the cookie declaration) may be
framed by the site itself but by no other site.

Framed on another site under a decoy, the banner's "Accept all" button takes a click the
visitor meant for something else (clickjacking). Inside the frame the form is same-origin,
so the CSRF check passes it, a receipt records a consent nobody gave, and with
`same_site="none"` the browser keeps the cookie. `Content-Security-Policy: frame-ancestors
'self'` (and `X-Frame-Options: SAMEORIGIN` for browsers before CSP level 2) stop the frame;
tests/test_browser_consent_pages_not_framed_elsewhere.py watches Chromium obey them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps.full_stack_app import create_app

HOST = "shop.example"
AS_PAGE = {"sec-fetch-dest": "document"}
AS_FRAME = {"sec-fetch-dest": "iframe"}
FETCHED = {"sec-fetch-dest": "empty"}


def _get(app: Any, url: str, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            return await client.get(url, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return create_app(tmp_path / "var", flush_interval=3600)


@pytest.mark.parametrize("headers", [AS_PAGE, AS_FRAME, FETCHED, {}], ids=str)
@pytest.mark.parametrize(
    "url",
    ["/consent/banner", "/consent/banner?next=/shop", "/consent/cookies?format=html"],
)
def test_gate_pages_may_be_framed_only_by_the_site_itself(
    app: Any, url: str, headers: dict[str, str]
) -> None:
    response = _get(app, url, headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers.get_list("content-security-policy") == ["frame-ancestors 'self'"]
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


@pytest.mark.parametrize(
    "url", ["/consent", "/consent/cookies", "/.well-known/gpc.json", "/consent/static/banner.css"]
)
def test_data_and_static_files_keep_their_headers(app: Any, url: str) -> None:
    """JSON, CSS and scripts are read by pages, never shown in a frame: nothing to add, and
    a frame-ancestors header there would be noise for every cache in between."""
    response = _get(app, url, {})
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    assert "x-frame-options" not in response.headers
