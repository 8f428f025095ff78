"""A streamed page with more than MAX_INJECT_BUFFER of text in one element (a `<textarea>`
holding a document to edit, a `<script type="application/json">` with a dashboard's data, a
long inline style or comment) still gets the banner at its real `</body>`, as sent whole.

While such an element is open, the banner's place is not known yet (`inject` puts it before
an element the page never closes): the gate holds the element back. Past the bound, it gave
up on the page, passed the rest on as it came, and the undecided visitor was never asked.
Now what is held goes on and the reading goes on: the banner goes at a later real
`</body>` (or `inject`'s later fallbacks); only a page that never closes the element, whose
banner's place has gone on already, ends without it. The bound still holds throughout.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookiewall import ConsentMiddleware
from cookiewall.banner import BodyEndScanner, _markup_ends, _plain_body_end, inject
from cookiewall.middleware import MAX_INJECT_BUFFER
from tests.test_cookiewall_support import SECRET, http_scope, make_policy

Message = MutableMapping[str, Any]
HTML = (b"content-type", b"text/html; charset=utf-8")
DOC = b"<!doctype html><html><head><title>t</title></head><body>"
BANNER = b"data-cookiewall"
PIECE = 64 * 1024
LONG = MAX_INJECT_BUFFER + 300_000


async def _served(pieces: list[bytes]) -> tuple[bytes, list[tuple[int, int]]]:
    """The page the client gets when the app sends `pieces` (the last one ends it), and for
    each piece, how many bytes the app had sent and the client had got before it."""
    out: list[bytes] = []
    progress: list[tuple[int, int]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [HTML]})
        sent = 0
        for index, piece in enumerate(pieces):
            progress.append((sent, sum(map(len, out))))
            more = index < len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": more})
            sent += len(piece)

    async def client(message: Message) -> None:
        out.append(message.get("body", b""))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    await gate(http_scope(), receive, client)
    return b"".join(out), progress


def _pieces(page: bytes) -> list[bytes]:
    return [*(page[at : at + PIECE] for at in range(0, len(page), PIECE)), b""]


LONG_ELEMENTS = [
    pytest.param(b"<textarea>" + b"line\n" * (LONG // 5) + b"</textarea>", id="textarea"),
    pytest.param(
        b'<script type="application/json">' + b'{"a":1},' * (LONG // 8) + b"</script>",
        id="json-script",
    ),
    pytest.param(b"<style>" + b"a{}" * (LONG // 3) + b"</style>", id="style"),
    pytest.param(b"<!--" + b"c" * LONG + b"-->", id="comment"),
    pytest.param(b"<script>" + b"x();" * (LONG // 4) + b"</script>" * 2, id="script-twice"),
]


@pytest.mark.parametrize("element", LONG_ELEMENTS)
def test_a_page_with_a_long_text_element_gets_the_banner_at_its_body_end(
    element: bytes,
) -> None:
    page = DOC + b"<p>before</p>" + element + b"<p>after</p></body></html>\n"
    whole, _ = asyncio.run(_served([page]))
    assert BANNER in whole
    streamed, progress = asyncio.run(_served(_pieces(page)))
    assert streamed == whole
    # Never more than the bound (and the piece that crossed it) held back.
    assert all(sent - got <= MAX_INJECT_BUFFER + PIECE for sent, got in progress)


def test_a_page_that_never_closes_its_long_element_passes_as_it_came_within_the_bound() -> None:
    page = DOC + b"<script>" + b"x();" * (LONG // 4)
    streamed, progress = asyncio.run(_served(_pieces(page)))
    assert streamed == page  # the banner's place (before the <script>) went on long ago
    assert all(sent - got <= MAX_INJECT_BUFFER + PIECE for sent, got in progress)


@pytest.mark.parametrize(
    ("rest", "banner"),
    [
        (b"</textarea><p>after</p></body></html>", True),
        (b"</textarea><p>a</p></body><p>b</p></body>\n", True),
        (b"</textarea><script>'</body>'</script></body>", True),
        # No </body> after the bytes that went on: `inject`'s fallbacks may have gone on.
        (b"</textarea><script>never closed", False),
        (b"</textarea><p>no end tags</p>", False),
        (b"</textarea></html><p>late</p>", False),
        (b"</textarea><!-- </body> -->", False),
    ],
)
def test_after_the_held_bytes_go_on_the_banner_goes_before_a_later_body_end_only(
    rest: bytes, banner: bool
) -> None:
    page = DOC + b"<textarea>" + b"t" * 1000 + rest
    cut = len(DOC) + 500  # in the textarea: everything from it on is held
    scanner = BodyEndScanner()
    passed = scanner.feed(page[:cut])
    assert scanner.held == len(page[:cut]) - len(DOC)
    passed += scanner.forgo_held()
    assert passed == page[:cut]
    assert scanner.held == 0
    passed += scanner.feed(page[cut:])
    assert passed + scanner.finish(b"<BANNER>") == (inject(page, b"<BANNER>") if banner else page)


# Pieces that pages are made of, with halves of the tags that matter.
ATOMS = [
    b"</body>", b"</BODY>", b"</html>", b"<!--", b"-->", b"--!>", b"<!-->", b"<script>",
    b"</script>", b"<textarea>", b"</textarea>", b"<noscript>", b"<template>", b"</template>",
    b"<plaintext>", b"<p>", b"x", b" ", b"<", b"</bo", b"dy>", b"<!-", b"</scr", b"ipt>",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(ATOMS), max_size=30).map(b"".join),
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=8),
)
def test_held_bytes_forgone_anywhere_leave_the_banner_where_inject_puts_it_or_nowhere(
    rest: bytes, cuts: list[int], forgo_after: int
) -> None:
    page = b"<!doctype html>" + rest
    points = sorted(cut % (len(page) + 1) for cut in cuts)
    scanner = BodyEndScanner()
    passed = b""
    floor = -1
    for index, (start, end) in enumerate(itertools.pairwise([0, *points, len(page)])):
        passed += scanner.feed(page[start:end])
        if index == forgo_after and not scanner.has_body_end:
            passed += scanner.forgo_held()
            floor = len(passed)
    got = passed + scanner.finish(b"<BANNER>")
    expected = inject(page, b"<BANNER>")
    assert expected is not None
    places = [at for at in range(len(page) + 1) if page[:at] + b"<BANNER>" + page[at:] == expected]
    before_a_body_end = _plain_body_end(page) >= 0 or _markup_ends(page).body_end >= 0
    kept = floor < 0 or (before_a_body_end and max(places) >= floor)
    assert got == (expected if kept else page)
