"""The banner's language from Accept-Language: a page with the injected banner says it varies
with it, and the language cache keeps no more of a header, however long, than it reads."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

import httpx

from cookiewall import ConsentMiddleware, Policy
from cookiewall.banner import Banner
from cookiewall.policy import Category, CookieRule

SECRET = "a-secret-key-for-the-second-review"


PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


def policy(*rules: CookieRule) -> Policy:
    return Policy(
        "2026-11-28",
        [Category("necessary", required=True), Category("analytics", description="Counting.")],
        rules or [CookieRule("_ga*", "analytics")],
    )


async def html_page(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"%d" % len(PAGE)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 41000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.example") as http:
            return await http.request(method, url, **kwargs)

    return asyncio.run(go())


# --- Vary of the injected banner ------------------------------------------------------------


def test_an_injected_banner_varies_with_accept_language() -> None:
    app = ConsentMiddleware(html_page, policy=policy(), secret_key=SECRET, inject_banner=True)
    german = call(app, "GET", "/", headers={"accept-language": "de"})
    english = call(app, "GET", "/", headers={"accept-language": "en"})
    assert "Alle akzeptieren" in german.text
    assert "Accept all" in english.text
    for response in (german, english):
        vary = {token.strip().lower() for token in response.headers["vary"].split(",")}
        assert {"cookie", "accept-language"} <= vary


# --- the language cache and long Accept-Language headers --------------------------------------


def test_long_accept_language_headers_are_not_kept_whole_in_the_cache() -> None:
    banner = Banner(policy(), "/consent")
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for index in range(300):
            # Distinct, 64 kB each (httptools sets no header size limit): what a bot can send.
            header = f"de;q=0.{index % 9 + 1}, " + "x" * 65_536 + str(index)
            assert banner.language_for(header) == "de"
            del header
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1_000_000, f"{held} bytes kept for 300 Accept-Language headers"


def test_the_cache_still_answers_each_header_by_what_it_reads() -> None:
    banner = Banner(policy(), "/consent")
    assert banner.language_for("fr, de") == "fr"
    assert banner.language_for("de, fr") == "de"
    padded = "en;q=0.1, " + " " * 600 + ", de"  # what lies past the read length is not read
    assert banner.language_for(padded) == "en"
    assert banner.language_for(padded + "x") == "en"
