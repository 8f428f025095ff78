"""A streamed page's pieces, whatever their sizes and types, give the client the page sent whole.

The gate holds an undecided visitor's streamed page as the app's own pieces (no copies) while
it looks for where the banner goes, and sends held bytes in one join. What the client gets must
not depend on how the app cut its page (one byte, a few, 64 KB, empty pieces, the end in an
empty last message or in the last piece) nor on what the pieces are (ASGI servers take bytes,
bytearray and memoryview bodies): it is, byte for byte, what the gate makes of the same page
sent in one message. And a piece the gate keeps must be the app's bytes as they were sent: an
app that refills one bytearray after each `send` (a buffer reused for the next piece) must not
change what the client gets. tests/test_banner_in_streamed_pages.py splits pages of tags with
bytes pieces; these add the pieces' types, empty pieces, the ways a page ends, and whole pages
as real sites write them (a BOM, an XML prolog, a CSP `<meta>` with a nonce, upper case, a page
long enough for 64 KB pieces), all below the 1 MiB a page may hold.
"""

from __future__ import annotations

import asyncio
import itertools
import tracemalloc
from collections.abc import MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, http_scope, make_policy

Message = dict[str, Any]
HTML = (b"content-type", b"text/html; charset=utf-8")
CSP_META = b'<meta http-equiv="Content-Security-Policy" content="script-src \'nonce-r4nd0m\'">'
STARTS = [
    b"<!doctype html><html><head><title>t</title></head><body>",
    b"<!DOCTYPE HTML><HTML><HEAD><TITLE>T</TITLE></HEAD><BODY>",
    b"\xef\xbb\xbf<!doctype html><html><body>",
    b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n<html><body>',
    b"<!-- built 2026-11-29 -->\n<!doctype html><html><head>" + CSP_META + b"</head><body>",
    b"<!doctype html><html><head><style>p{}</style>" + CSP_META + b"<title>x</title></head><body>",
]
# A fragment passes as it came when streamed, but one ending in `</body>` gets the banner when
# sent whole (README: the banner section): it is compared with itself, not with the whole.
FRAGMENT = b"<p>a fragment, not a page</p>"
# What pages are made of, with what moves the banner: its end tags in any case and in
# places where they are text (comments, scripts, <template>, <textarea>, <plaintext>).
PARTS = [
    b"<p>text</p>\n", b"</body>", b"</BODY>", b"</html>", b"</Html>\n", b"<!-- </body> -->",
    b"<!--", b"-->", b"--!>", b"<!-->", b'<script>s = "</body></html>";</script>',
    b"<script nonce=r4nd0m>", b"</script>", b"</script\n>", b"<style>", b"</style>",
    b"<template>", b"</template>", b"<textarea>", b"</textarea>", b"<plaintext>",
    b"<noscript>", b"</noscript>", b"<", b"</bo", b"dy>", b" ", b"\n", b"\t",
    b"<div><a href=#>l</a><b>b</b></div>", b"caf\xc3\xa9",
]  # fmt: skip
# Long enough that 64 KB pieces cut it (a page of text, one dense with tags).
FILLERS = [b"", b"Lorem ipsum dolor sit amet. " * 7_000, b"<li><a href=#>i</a></li>\n" * 9_000]


async def _served(messages: list[Message], refill_after_send: bool = False) -> list[Message]:
    """What the client gets (each message as it was when the gate sent it) when the app sends
    `messages`; with `refill_after_send`, each body is one bytearray the app refills with
    other bytes once `send` has returned, as an app reusing its buffer does."""
    out: list[Message] = []
    buffer = bytearray()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            message = dict(message)
            if refill_after_send and "body" in message:
                buffer[:] = message["body"]
                message["body"] = buffer
            await send(message)
            if refill_after_send:
                buffer[:] = b"<!-- overwritten -->" * (len(buffer) // 20 + 1)

    async def client(message: MutableMapping[str, Any]) -> None:
        seen = dict(message)
        if "body" in seen:
            seen["body"] = bytes(seen["body"])  # what a server writes out at once
        out.append(seen)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    await gate(http_scope(headers=[(b"host", b"testserver")]), receive, client)
    return out


def _page_of(out: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")


def _start(headers: list[tuple[bytes, bytes]] | None = None) -> Message:
    return {"type": "http.response.start", "status": 200, "headers": headers or [HTML]}


def _whole(page: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """The oracle: what the gate sends for `page` in one body message."""
    body = {"type": "http.response.body", "body": page, "more_body": False}
    return _page_of(asyncio.run(_served([_start(headers), body])))


def _as(kind: str, piece: bytes) -> bytes | bytearray | memoryview:
    if kind == "bytearray":
        return bytearray(piece)
    if kind == "memoryview":  # of a part of a larger buffer, as a server's read buffer is
        return memoryview(b"<<" + piece + b">>")[2 : 2 + len(piece)]
    if kind == "view of a bytearray":
        return memoryview(bytearray(piece))
    return piece


def _messages(
    pieces: list[bytes], kinds: list[str], empty_after: set[int], ending: str
) -> list[Message]:
    """The body messages of a page in `pieces` (their types cycling through `kinds`), an empty
    piece after those in `empty_after`, and the page's end as `ending` says."""
    messages: list[Message] = []
    for at, piece in enumerate(pieces):
        body = _as(kinds[at % len(kinds)], piece)
        messages.append({"type": "http.response.body", "body": body, "more_body": True})
        if at in empty_after:
            messages.append({"type": "http.response.body", "body": b"", "more_body": True})
    if ending == "an empty last message" or not messages:
        messages.append({"type": "http.response.body", "body": b"", "more_body": False})
    elif ending == "more_body=False on the last piece":
        messages[-1]["more_body"] = False
    else:  # no more_body in the last message: False, ASGI's default
        del messages[-1]["more_body"]
    return messages


def _cut(page: bytes, how: str, cuts: list[int]) -> list[bytes]:
    if how == "random":
        points = sorted({cut % (len(page) + 1) for cut in cuts} | {0, len(page)})
        return [page[a:b] for a, b in itertools.pairwise(points)]
    size = {"1 byte": 1, "3 bytes": 3, "64 KB": 64 * 1024}[how]
    return [page[at : at + size] for at in range(0, len(page), size)]


KINDS = ["bytes", "bytearray", "memoryview", "view of a bytearray"]
ENDINGS = ["an empty last message", "more_body=False on the last piece", "no more_body"]


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(
    start=st.sampled_from(STARTS),
    parts=st.lists(st.sampled_from(PARTS), max_size=14),
    filler=st.sampled_from(FILLERS),
    end=st.lists(st.sampled_from(PARTS), max_size=6),
    how=st.sampled_from(["random", "random", "1 byte", "3 bytes", "64 KB"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=10),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    empty_after=st.sets(st.integers(min_value=0, max_value=12), max_size=4),
    ending=st.sampled_from(ENDINGS),
)
def test_a_page_in_any_pieces_of_any_type_is_the_page_sent_whole(
    start: bytes,
    parts: list[bytes],
    filler: bytes,
    end: list[bytes],
    how: str,
    cuts: list[int],
    kinds: list[str],
    empty_after: set[int],
    ending: str,
) -> None:
    page = start + b"".join(parts) + filler + b"".join(end)
    if how in ("1 byte", "3 bytes") and filler:
        how = "random"  # 200 000 messages of one byte: no more is learnt, only time lost
    pieces = _cut(page, how, cuts)
    out = asyncio.run(_served([_start(), *_messages(pieces, kinds, empty_after, ending)]))
    assert _page_of(out) == _whole(page)
    assert out[-1]["type"] == "http.response.body"
    assert not out[-1].get("more_body", False)
    assert [m["type"] for m in out].count("http.response.start") == 1


def test_a_long_page_in_64_kb_pieces_of_each_type_is_the_page_sent_whole() -> None:
    # The usual large page: a CSP <meta> in its head, 900 KB of tags, its end cut by a piece.
    page = STARTS[4] + FILLERS[2] * 4 + b"<p>last</p></body>\n</html>\n"
    assert 800_000 < len(page) < 1024 * 1024
    expected = _whole(page)
    assert b"cookiewall" in expected
    assert b'nonce="r4nd0m"' in expected
    for kind in KINDS:
        pieces = _cut(page, "64 KB", [])
        messages = _messages(pieces, [kind], set(), "an empty last message")
        assert _page_of(asyncio.run(_served([_start(), *messages]))) == expected, kind


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(
    start=st.sampled_from([*STARTS, FRAGMENT]),
    parts=st.lists(st.sampled_from(PARTS), max_size=14),
    filler=st.sampled_from(FILLERS),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=10),
    ending=st.sampled_from(ENDINGS),
)
def test_a_bytearray_the_app_refills_after_each_send_does_not_change_the_streamed_page(
    start: bytes, parts: list[bytes], filler: bytes, cuts: list[int], ending: str
) -> None:
    page = start + b"".join(parts) + filler + b"</body></html>"
    messages = [_start(), *_messages(_cut(page, "random", cuts), ["bytes"], set(), ending)]
    sent = _page_of(asyncio.run(_served(messages)))
    assert _page_of(asyncio.run(_served(messages, refill_after_send=True))) == sent
    assert sent == (page if start == FRAGMENT else _whole(page))


@pytest.mark.parametrize("declared", [0, -5, 5], ids=["exact", "shorter", "longer"])
def test_a_bytearray_the_app_refills_does_not_change_a_page_held_by_its_content_length(
    declared: int,
) -> None:
    page = STARTS[0] + b"<p>one</p><p>two</p>" * 50 + b"</body></html>"
    headers = [HTML, (b"content-length", str(len(page) + declared).encode())]
    pieces = _cut(page, "random", [100, 700, 1500])
    messages = [_start(headers), *_messages(pieces, ["bytes"], set(), "an empty last message")]
    got = _page_of(asyncio.run(_served(messages, refill_after_send=True)))
    assert got == _page_of(asyncio.run(_served(messages)))


async def _memory_after_a_large_piece(*, gated: bool) -> int:
    """The memory traced once the app has sent a 3 MiB piece whose last 1 200 bytes follow
    its </body> and has dropped it, before its next piece."""
    traced: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(_start())
        piece = STARTS[0] + b"x" * (3 * 1024 * 1024) + b"</body>" + b"<p>after</p>" * 100
        await send({"type": "http.response.body", "body": piece, "more_body": True})
        del piece
        traced.append(tracemalloc.get_traced_memory()[0])
        await send({"type": "http.response.body", "body": b"</html>", "more_body": False})

    async def client(message: MutableMapping[str, Any]) -> None:
        pass

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    target: Any = app
    if gated:
        target = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    tracemalloc.start()
    try:
        await target(http_scope(headers=[(b"host", b"testserver")]), receive, client)
    finally:
        tracemalloc.stop()
    return traced[0]


def test_a_large_piece_is_not_kept_for_the_few_bytes_held_from_it() -> None:
    """The bytes held after a piece's </body> were a view of the app's piece, which kept all
    of it (3 MiB kept for 1 200 bytes, as long as the page went on): now a copy."""
    kept = asyncio.run(_memory_after_a_large_piece(gated=True))
    kept -= asyncio.run(_memory_after_a_large_piece(gated=False))
    assert kept < 256 * 1024, f"{kept / 1024 / 1024:.2f} MiB kept"
