"""The banner's language from Accept-Language: a page with the injected banner says it varies
with it, and the language cache keeps no more of a header, however long, than it reads."""

from __future__ import annotations

import gc
import tracemalloc

from cookiewall import ConsentMiddleware
from cookiewall.banner import Banner
from tests.shop_support import SHOP_SECRET, call_shop, shop_page, shop_policy

# --- Vary of the injected banner ------------------------------------------------------------


def test_an_injected_banner_varies_with_accept_language() -> None:
    app = ConsentMiddleware(
        shop_page, policy=shop_policy(), secret_key=SHOP_SECRET, inject_banner=True
    )
    german = call_shop(app, "GET", "/", headers={"accept-language": "de"})
    english = call_shop(app, "GET", "/", headers={"accept-language": "en"})
    assert "Alle akzeptieren" in german.text
    assert "Accept all" in english.text
    for response in (german, english):
        vary = {token.strip().lower() for token in response.headers["vary"].split(",")}
        assert {"cookie", "accept-language"} <= vary


# --- the language cache and long Accept-Language headers --------------------------------------


def test_long_accept_language_headers_are_not_kept_whole_in_the_cache() -> None:
    banner = Banner(shop_policy(), "/consent")
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
    banner = Banner(shop_policy(), "/consent")
    assert banner.language_for("fr, de") == "fr"
    assert banner.language_for("de, fr") == "de"
    padded = "en;q=0.1, " + " " * 600 + ", de"  # what lies past the read length is not read
    assert banner.language_for(padded) == "en"
    assert banner.language_for(padded + "x") == "en"
