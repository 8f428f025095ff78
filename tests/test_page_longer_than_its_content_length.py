"""A page whose app declares a small Content-Length and then sends more (a body-rewriting
middleware inside the gate that forgets the length, a template that grew) is held no further
than that length: past it, the gate streams it as a page with no length.

The gate holds an undecided visitor's page whose Content-Length is at most MAX_INJECT_BUFFER,
to put the banner in: that length is what bounds what it holds. It never compared what came
with it: a page declaring 100 bytes and sending 10 MiB was held whole (40 MiB at its peak) and
reached its visitor only at its end. Now the bytes past the declared length hand the page on
to the streamed path (its length dropped, the banner put in on the way); a page that sends
what it declared, or less, is held and measured as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from cookiewall import ConsentMiddleware
from cookiewall.middleware import MAX_INJECT_BUFFER
from tests.test_cookiewall_support import SECRET, http_scope, make_policy

Message = MutableMapping[str, Any]
HTML = (b"content-type", b"text/html; charset=utf-8")
DOC = b"<!doctype html><html><head><title>t</title></head><body>"
END = b"</body></html>\n"
PIECE = 64 * 1024
BANNER = b"data-cookiewall"


async def _served(
    pieces: list[bytes], length: int | None
) -> tuple[Message, bytes, list[tuple[int, int]]]:
    """The start and page the client gets when the app declares `length` and sends `pieces`
    (the last ends it), and for each piece, how many bytes the app had sent and the client
    had got before it."""
    out: list[Message] = []
    progress: list[tuple[int, int]] = []

    def got() -> int:
        return sum(len(m.get("body", b"")) for m in out)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [HTML] if length is None else [HTML, (b"content-length", b"%d" % length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        sent = 0
        for index, piece in enumerate(pieces):
            progress.append((sent, got()))
            more = index < len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": more})
            sent += len(piece)

    async def client(message: Message) -> None:
        out.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    await gate(http_scope(), receive, client)
    page = b"".join(m.get("body", b"") for m in out[1:])
    return out[0], page, progress


def _pieces(page: bytes) -> list[bytes]:
    return [*(page[at : at + PIECE] for at in range(0, len(page), PIECE)), b""]


@pytest.mark.parametrize("declared", [100, 60_000, MAX_INJECT_BUFFER // 2, MAX_INJECT_BUFFER])
@pytest.mark.parametrize("size", [MAX_INJECT_BUFFER + 1000, 3 * MAX_INJECT_BUFFER])
def test_a_page_longer_than_its_content_length_is_streamed_past_it(
    declared: int, size: int
) -> None:
    page = DOC + b"<p>" + b"y" * size + b"</p>" + END
    _, whole, _ = asyncio.run(_served([page], None))
    assert BANNER in whole
    start, streamed, progress = asyncio.run(_served(_pieces(page), declared))
    assert streamed == whole
    assert b"content-length" not in dict(start["headers"])
    # Held no further than the declared length (and the piece that went past it).
    assert all(sent - got <= declared + PIECE for sent, got in progress)


@pytest.mark.parametrize("shortfall", [0, 1, 1000])
def test_a_page_that_sends_its_content_length_or_less_is_held_and_measured(
    shortfall: int,
) -> None:
    page = DOC + b"<p>" + b"y" * 200_000 + b"</p>" + END
    start, streamed, progress = asyncio.run(_served(_pieces(page), len(page) + shortfall))
    assert BANNER in streamed
    assert dict(start["headers"])[b"content-length"] == b"%d" % len(streamed)
    assert all(got == 0 for _, got in progress)  # held whole, as before
