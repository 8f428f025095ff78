"""The memory a streamed page takes in the gate is a small multiple of what it holds.

The README bounds what the gate holds of a streamed page at 1 MiB (MAX_INJECT_BUFFER). The
memory it took was four to five times that: the held bytes, a lower-cased copy of them to
search, and two more copies as they went on (a slice, then bytes of it); a page held whole
by its Content-Length kept its pieces beside the joined page and the page with the banner.
A page left open in a `<plaintext>` was never let go at all: held whole, however long.

Measured with tracemalloc (allocations are counted, not timed: the same on a loaded
machine): the peak while the page goes through the gate, less the peak of the same app
without it (its own piece of the moment). The app makes each piece as it sends it and
drops it after, as a template's `generate()` does.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import MutableMapping
from typing import Any

import pytest

from cookiewall import ConsentMiddleware
from cookiewall.middleware import MAX_INJECT_BUFFER
from tests.test_cookiewall_support import SECRET, http_scope, make_policy

Message = dict[str, Any]
HTML = (b"content-type", b"text/html; charset=utf-8")
DOC = b"<!doctype html><html><head><title>t</title></head><body>"
BANNER = b"data-cookiewall"
MiB = 1024 * 1024
# What is held (1 MiB, and the piece that crosses it) and once more as it goes on, with the
# pieces' own overhead (1 KB pieces: some 5%). It was 4.0x to 5.5x (12x for <plaintext>).
BOUND = 2.5 * MAX_INJECT_BUFFER

LONG_TEXTAREA = (
    DOC
    + b"<textarea>"
    + b"line\n" * ((MAX_INJECT_BUFFER + 400_000) // 5)
    + b"</textarea></body></html>"
)
FOREVER_FRAME = DOC + b"<p>hi</p></body>" + b"<script>x()</script>\n" * (3 * MiB // 21)
PLAINTEXT = DOC + b"<plaintext>" + b"z" * (3 * MiB)
# A <meta> policy after a long inline style: the head is kept to be read, and held too.
LONG_HEAD = (
    b"<!doctype html><html><head><style>"
    + b"a{}" * (900_000 // 3)
    + b'</style><meta http-equiv="Content-Security-Policy" content="style-src \'nonce-abc\'">'
    + b"</head><body>"
    + b"<p>x</p>" * 50_000
    + b"</body></html>"
)
HELD_WHOLE = DOC + b"<p>x</p>" * ((MAX_INJECT_BUFFER - 200) // 8) + b"</body></html>"

PAGES = [
    pytest.param(LONG_TEXTAREA, None, id="textarea-open-past-1MiB"),
    pytest.param(FOREVER_FRAME, None, id="forever-frame-after-body-end"),
    pytest.param(PLAINTEXT, None, id="plaintext-to-the-end"),
    pytest.param(LONG_HEAD, None, id="csp-meta-after-a-long-style"),
    pytest.param(HELD_WHOLE, len(HELD_WHOLE), id="held-whole-by-content-length"),
]
PIECES = [pytest.param(64 * 1024, id="64KB-pieces"), pytest.param(1024, id="1KB-pieces")]


async def _served(page: bytes, piece: int, length: int | None, *, gated: bool) -> tuple[int, bytes]:
    """The peak memory traced while `page` is served in pieces of `piece` bytes, and what
    the client got (its banner and its last bytes: the page itself is not kept)."""
    got = bytearray()
    size = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [HTML] if length is None else [HTML, (b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for at in range(0, len(page), piece):
            await send(
                {"type": "http.response.body", "body": page[at : at + piece], "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def client(message: MutableMapping[str, Any]) -> None:
        nonlocal size
        body = message.get("body", b"")
        size += len(body)
        if BANNER in body:
            got.extend(BANNER)
        got.extend(body[-64:])
        del got[:-1024]

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    target: Any = app
    if gated:
        target = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    scope = http_scope()
    tracemalloc.start()
    try:
        await target(scope, receive, client)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size >= len(page)  # all of it went on (with the banner, when it got one)
    return peak, bytes(got)


def _gate_peak(page: bytes, piece: int, length: int | None) -> int:
    bare, _ = asyncio.run(_served(page, piece, length, gated=False))
    peak, _ = asyncio.run(_served(page, piece, length, gated=True))
    return peak - bare


@pytest.mark.parametrize("piece", PIECES)
@pytest.mark.parametrize(("page", "length"), PAGES)
def test_the_memory_a_streamed_page_takes_is_about_twice_what_is_held(
    page: bytes, length: int | None, piece: int
) -> None:
    peak = _gate_peak(page, piece, length)
    assert peak <= BOUND, f"{peak / MAX_INJECT_BUFFER:.2f}x the 1 MiB held"


def test_a_plaintext_page_goes_on_past_the_bound_as_it_comes() -> None:
    """A page left in `<plaintext>` was held whole (its reading stopped there, and what
    the reading had not passed was held): 3 MiB held, and the client got nothing until the
    end. Now past the bound it goes on as a long open text element does."""

    async def run() -> list[int]:
        sizes: list[int] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": [HTML]})
            for at in range(0, len(PLAINTEXT), 64 * 1024):
                body = PLAINTEXT[at : at + 64 * 1024]
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def client(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sizes.append(len(message.get("body", b"")))

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
        await gate(http_scope(), receive, client)
        return sizes

    sizes = asyncio.run(run())
    assert sum(sizes) == len(PLAINTEXT)  # no banner: its place (before <plaintext>) went on
    assert max(sizes) <= MAX_INJECT_BUFFER + 64 * 1024
    assert sum(sizes[:-1]) >= len(PLAINTEXT) - 64 * 1024  # not all at the end


def test_a_bytearray_piece_the_app_fills_again_is_not_changed_in_the_gate() -> None:
    """The gate holds the app's pieces as they are (no copy): a bytearray, which an app may
    reuse for its next piece, is copied first. (A control: the copy was always made.)"""

    async def run() -> bytes:
        out: list[bytes] = []
        buffer = bytearray()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": [HTML]})
            for text in (DOC + b"<p>one</p>", b"<p>two</p></bo", b"dy><p>after</p>"):
                buffer[:] = text
                await send({"type": "http.response.body", "body": buffer, "more_body": True})
            buffer[:] = b"</html>"
            await send({"type": "http.response.body", "body": buffer, "more_body": False})

        async def client(message: MutableMapping[str, Any]) -> None:
            out.append(bytes(message.get("body", b"")))

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
        await gate(http_scope(), receive, client)
        return b"".join(out)

    page = asyncio.run(run())
    assert page.startswith(DOC + b"<p>one</p><p>two</p>")
    assert page.index(BANNER) < page.index(b"</body><p>after</p></html>")
    assert page.endswith(b"</body><p>after</p></html>")
