"""The banner in a streamed page: several body messages and no small known Content-Length
(Jinja's `generate()`, a `StreamingResponse`, a page that flushes its head early).

Such a page passed unchanged: its undecided visitor saw no banner and was never asked. It now
goes on as it comes, the gate holding back only the bytes from where the banner may still go
(the last real `</body>` so far) to the end, and the banner goes where `inject` puts it in the
whole page. These tests split pages at every byte and compare with `inject` on the joined page,
and check what is held back, the headers, the bound, and an app or client that stops midway.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookiewall import ConsentMiddleware
from cookiewall.banner import BodyEndScanner, document_start, inject
from cookiewall.middleware import MAX_INJECT_BUFFER
from tests.test_cookiewall_support import SECRET, decide, http_scope, make_policy

SNIPPET = b"<BANNER>"
DOC = b"<!doctype html><html><head><title>t</title></head><body>"
HTML = (b"content-type", b"text/html; charset=utf-8")
Message = MutableMapping[str, Any]


def _scanned(page: bytes, cuts: list[int]) -> tuple[bytes, list[bytes]]:
    """`page` fed to a BodyEndScanner in pieces cut at `cuts`: the page it gives back, and
    what it gave back after each piece."""
    scanner = BodyEndScanner()
    released = []
    previous = 0
    for cut in [*sorted(cuts), len(page)]:
        released.append(scanner.feed(page[previous:cut]))
        previous = cut
    return b"".join(released) + scanner.finish(SNIPPET), released


# Pages with their end in unusual places: each is split at every byte, in two and in one-byte
# pieces, and must come out as `inject` makes the whole page.
PAGES = [
    pytest.param(DOC + b"<p>x</p></body></html>\n", id="usual"),
    pytest.param(DOC + b"<p>x</p></BODY>\n</HTML>  ", id="upper-case"),
    pytest.param(DOC + b'<script>s = "</body>";</script><p>x</p>', id="body-end-in-script"),
    pytest.param(DOC + b"<p>x</p></body></html><!-- </body> -->", id="body-end-in-comment"),
    pytest.param(DOC + b"<!--> </body> <p>x</p>", id="empty-comment-then-body-end"),
    pytest.param(DOC + b"<!-- a --!> </body> </html>", id="comment-ended-by-bang"),
    pytest.param(DOC + b"<p>x</p><!-- left open </body></html>", id="comment-left-open"),
    pytest.param(DOC + b"<template></body></template><p>x</p>", id="body-end-in-template"),
    pytest.param(DOC + b"<template><p>x</body></html>", id="template-left-open"),
    pytest.param(DOC + b"<p>x</p></html>\n<p>after</p>", id="html-end-without-body-end"),
    pytest.param(DOC + b"<textarea></body></textarea></body>", id="textarea"),
    pytest.param(DOC + b"<script>1</script\n></body>", id="script-end-tag-with-newline"),
    pytest.param(DOC + b"<plaintext></body></html>", id="plaintext"),
    pytest.param(DOC + b"</body></body><p>x</p></body>\n", id="three-body-ends"),
    pytest.param(DOC + b"</body> </html> </html>", id="two-html-ends"),
    pytest.param(DOC + b"<p>x</p>", id="no-end-at-all"),
    pytest.param(b"<!-- built --><!DOCTYPE html><p>x</p></body>", id="comment-before-doctype"),
]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_split_anywhere_gets_the_banner_where_inject_puts_it(page: bytes) -> None:
    expected = inject(page, SNIPPET)
    for cut in range(len(page) + 1):
        assert _scanned(page, [cut])[0] == expected, cut
    assert _scanned(page, list(range(len(page))))[0] == expected


# Pieces that pages are made of, including halves of the tags that matter.
ATOMS = [
    b"</body>", b"</BODY>", b"</html>", b"</Html>", b"<!--", b"-->", b"--!>", b"<!-->", b"-",
    b"<script>", b"</script>", b"<script ", b"</script\n>", b"<style>", b"</style>", b"<title>",
    b"</title>", b"<textarea>", b"</textarea>", b"<noscript>", b"</noscript>", b"<template>",
    b"</template>", b"<plaintext>", b"<p>", b"x", b" ", b"\n", b"<", b"/", b">", b"</bo",
    b"dy>", b"<!-", b"</scr", b"ipt>",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(ATOMS), max_size=30).map(b"".join),
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_split_of_any_page_gives_what_inject_gives_the_whole(
    rest: bytes, cuts: list[int]
) -> None:
    page = b"<!doctype html>" + rest
    assert _scanned(page, [cut % (len(page) + 1) for cut in cuts])[0] == inject(page, SNIPPET)


@pytest.mark.parametrize(
    ("pieces", "released"),
    [
        # The usual page: everything before its </body> goes on as it comes.
        ([DOC, b"<p>1</p>", b"<p>2</p></body>", b"</html>"], [DOC, b"<p>1</p>", b"<p>2</p>", b""]),
        # A later real </body> releases the earlier one; one in a script does not.
        ([DOC + b"</body>", b"<p>late</p></body>"], [DOC, b"</body><p>late</p>"]),
        ([DOC + b"</body>", b'<script>"</body>"</script>'], [DOC, b""]),
        # A tag split between pieces: only from its "<" on waits for the next.
        ([DOC + b"<p>x</p></bo", b"dy></html>"], [DOC + b"<p>x</p>", b""]),
        ([DOC + b"<p>x</p><!", b"-- c --><p>y</p>"], [DOC + b"<p>x</p>", b"<!-- c --><p>y</p>"]),
        # An open comment or script, with no </body> yet: where the banner goes if never closed.
        ([DOC + b"<p>x</p><!-- c", b" -->"], [DOC + b"<p>x</p>", b"<!-- c -->"]),
        ([DOC + b"<script>a()", b"</script><p>y"], [DOC, b"<script>a()</script><p>y"]),
    ],
)
def test_only_what_may_be_where_the_banner_goes_is_held_back(
    pieces: list[bytes], released: list[bytes]
) -> None:
    scanner = BodyEndScanner()
    assert [scanner.feed(piece) for piece in pieces] == released


def test_what_is_held_is_the_last_real_body_end_to_the_end_however_long_the_page() -> None:
    scanner = BodyEndScanner()
    chunk = b"<p>" + b"x" * 1000 + b"</p>"
    passed = len(scanner.feed(DOC))
    for _ in range(1000):
        passed += len(scanner.feed(chunk))
        assert scanner.held <= 3  # at most a "<" waiting for what follows
    assert scanner.feed(b"</body>\n</html>\n") == b""
    assert scanner.held == len(b"</body>\n</html>\n")


@pytest.mark.parametrize(
    ("first", "complete", "expected"),
    [
        (b"<!doctype html>", False, True),
        (b"<!DOCTYPE HTML", False, True),
        (b"<html", False, True),
        (b"\xef\xbb\xbf  \n<html>", False, True),
        (b"<!-- built -->\n<!doctype html>", False, True),
        (b"<!do", False, None),
        (b"<!do", True, False),
        (b"\xef\xbb", False, None),
        (b"   \n", False, None),
        (b"<!-- still a comment", False, None),
        (b"<", False, None),
        (b"<p>a fragment</p></body></html>", False, False),
        (b"<div>", False, False),
        (b"<!doctype htm", True, False),
        (b" " * 4096 + b"<html>", False, False),  # as `inject`: the first 4 KiB decide
    ],
)
def test_a_stream_is_told_from_a_fragment_by_its_first_bytes(
    first: bytes, complete: bool, expected: bool | None
) -> None:
    assert document_start(first, complete) == expected


# -- through the gate ------------------------------------------------------------------------


def _start(headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": 200, "headers": headers}


def _body(body: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": more}


async def _through(
    messages: list[Message],
    *,
    cookie: str = "",
    method: str = "GET",
    after: Callable[[], Awaitable[None]] | None = None,
    send: Callable[[Message], Awaitable[None]] | None = None,
) -> tuple[list[Message], list[int]]:
    """What the client gets when the app sends `messages` through the gate (banner injected),
    and how many messages it had got when the app sent each of them."""
    out: list[Message] = []
    seen: list[int] = []

    async def app(scope: Any, receive: Any, app_send: Any) -> None:
        for message in messages:
            seen.append(len(out))
            await app_send(dict(message))
        if after is not None:
            await after()

    async def client(message: Message) -> None:
        if send is not None:
            await send(message)
        out.append(message)

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await gate(http_scope(method=method, headers=headers), receive, client)
    return out, seen


def _page_of(out: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")


def _held_page(page: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """What the gate makes of `page` sent whole: the oracle for the same page streamed."""
    out, _ = asyncio.run(_through([_start(headers or [HTML]), _body(page, False)]))
    return _page_of(out)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(ATOMS), max_size=20).map(b"".join),
    st.lists(st.integers(min_value=0, max_value=300), max_size=6),
)
def test_a_streamed_page_through_the_gate_is_the_page_sent_whole(
    rest: bytes, cuts: list[int]
) -> None:
    page = DOC + rest
    points = sorted({cut % (len(page) + 1) for cut in cuts} | {0, len(page)})
    pieces = [page[a:b] for a, b in itertools.pairwise(points)]
    messages = [_start([HTML]), *(_body(piece) for piece in pieces), _body(b"", False)]
    out, _ = asyncio.run(_through(messages))
    assert _page_of(out) == _held_page(page)
    assert out[-1]["more_body"] is False


STREAMED = [DOC, b"<p>one</p>", b"<p>two</p>", b"</body></html>"]


def test_the_start_and_each_piece_go_on_before_the_app_sends_the_next() -> None:
    app_headers = [
        HTML,
        (b"etag", b'"v1"'),
        (b"last-modified", b"Thu, 01 Jan 2026 00:00:00 GMT"),
        (b"accept-ranges", b"bytes"),
        (b"content-digest", b"sha-256=:x:"),
        (b"cache-control", b"public, max-age=60"),
    ]
    messages = [_start(app_headers), *(_body(piece) for piece in STREAMED), _body(b"", False)]
    out, seen = asyncio.run(_through(messages))
    # When the app sent "<p>two</p>", the client had the start, DOC and "<p>one</p>"; only
    # "</body></html>" waited, for the end.
    assert seen == [0, 0, 2, 3, 4, 4]
    assert [m.get("body") for m in out[1:3]] == [DOC, b"<p>one</p>"]
    page = _page_of(out)
    assert page.startswith(DOC + b"<p>one</p><p>two</p>")
    assert page.index(b"data-cookiewall") < page.index(b"</body></html>") == len(page) - 14
    headers = dict(out[0]["headers"])
    assert b"content-length" not in headers
    assert not {b"etag", b"last-modified", b"content-digest"} & set(headers)
    assert headers[b"accept-ranges"] == b"none"
    assert headers[b"vary"] == b"Cookie, Accept-Language, Sec-GPC"
    assert headers[b"cache-control"] == b"private, max-age=60"


def test_a_decided_visitor_gets_the_stream_as_the_app_sent_it() -> None:
    value = decide(_gate_for_decisions(), "accept_all")
    messages = [_start([HTML]), *(_body(piece) for piece in STREAMED), _body(b"", False)]
    out, seen = asyncio.run(_through(messages, cookie=f"cookiewall={value}"))
    assert [m.get("body") for m in out[1:]] == [*STREAMED, b""]
    assert seen == [0, 1, 2, 3, 4, 5]


def _gate_for_decisions() -> ConsentMiddleware:
    async def nothing(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the consent endpoint answers itself")

    return ConsentMiddleware(nothing, policy=make_policy(), secret_key=SECRET)


@pytest.mark.parametrize(
    ("headers", "first", "method"),
    [
        # A fragment (an htmx partial): decided by its first bytes, as it came, validators too.
        ([HTML, (b"etag", b'"f"')], b"<div><p>partial</p>", "GET"),
        ([HTML], b"<p>chunk 0</p></body></html>", "GET"),
        ([(b"content-type", b"text/html"), (b"content-encoding", b"gzip")], DOC, "GET"),
        ([(b"content-type", b"text/html; charset=utf-16")], DOC, "GET"),
        ([(b"content-type", b"text/html; charset=idna")], DOC, "GET"),
        ([(b"content-type", b"text/plain")], DOC, "GET"),
        ([HTML], DOC, "HEAD"),
    ],
)
def test_streams_the_banner_cannot_go_into_pass_as_they_came(
    headers: list[tuple[bytes, bytes]], first: bytes, method: str
) -> None:
    pieces = [first, b"<p>1</p>", b"</body></html>"]
    messages = [_start(headers), *(_body(piece) for piece in pieces), _body(b"", False)]
    out, seen = asyncio.run(_through(messages, method=method))
    assert [m.get("body") for m in out[1:]] == [*pieces, b""]
    assert seen[2:] == [2, 3, 4]  # from the first piece on, each goes on as it comes
    sent = dict(out[0]["headers"])
    assert all(sent[key] == value for key, value in headers)


def test_a_stream_whose_first_bytes_cannot_tell_waits_for_those_that_can() -> None:
    pieces = [b"<!-- built ", b"-->\n<!do", b"ctype html><body><p>x</p>", b"</body>"]
    messages = [_start([HTML]), *(_body(piece) for piece in pieces), _body(b"", False)]
    out, seen = asyncio.run(_through(messages))
    assert seen[:4] == [0, 0, 0, 0]  # nothing went on: the start waits with the first bytes
    assert seen[4] == 2  # the start and the three pieces, once they said "document"
    assert out[1]["body"] == b"".join(pieces[:3])
    assert b"content-length" not in dict(out[0]["headers"])
    assert b"data-cookiewall" in _page_of(out)


def test_a_page_that_ends_before_its_first_bytes_tell_is_a_held_page() -> None:
    messages = [_start([HTML]), _body(b"<!do"), _body(b"ctype html><p>x</p>", False)]
    out, _ = asyncio.run(_through(messages))
    page = _page_of(out)
    assert page == _held_page(b"<!doctype html><p>x</p>")
    assert b"data-cookiewall" in page


def test_a_content_length_above_the_bound_is_dropped_and_the_page_gets_the_banner() -> None:
    filler = b"<p>" + b"x" * 1024 + b"</p>"
    pieces = [DOC, *([filler] * 1100), b"</body></html>"]
    length = str(sum(map(len, pieces))).encode()
    assert int(length) > MAX_INJECT_BUFFER
    messages = [_start([HTML, (b"content-length", length)])]
    messages += [_body(piece, more=index < len(pieces) - 1) for index, piece in enumerate(pieces)]
    out, seen = asyncio.run(_through(messages))
    assert b"content-length" not in dict(out[0]["headers"])
    assert seen[2] == 2  # DOC went on before the app sent the second piece
    page = _page_of(out)
    assert page == _held_page(b"".join(pieces))
    assert max(len(m.get("body", b"")) for m in out[1:]) < 64 * 1024  # nothing piled up


def test_a_page_that_goes_on_long_after_its_body_end_gets_the_banner_before_it() -> None:
    # A "forever frame": scripts pushed after </body> for as long as the visitor stays.
    push = b"<script>tick()</script>" * 1000
    pieces = [DOC + b"<p>x</p></body>", *([push] * 60)]
    messages = [_start([HTML]), *(_body(piece) for piece in pieces), _body(b"", False)]
    out, seen = asyncio.run(_through(messages))
    page = _page_of(out)
    assert page == _held_page(b"".join(pieces))  # here, the same place as in the whole
    held_at_most = MAX_INJECT_BUFFER + len(push) + 16 * 1024  # and the banner
    assert all(len(m.get("body", b"")) <= held_at_most for m in out[1:])
    assert seen[-1] > seen[len(pieces) // 2] + 5  # the pushes go on as they come once over


def test_a_page_that_holds_too_much_with_no_body_end_goes_on_without_the_banner() -> None:
    pieces = [DOC + b"<!-- ", *([b"x" * 65536] * 20), b" --><p>end</p>"]
    messages = [_start([HTML]), *(_body(piece) for piece in pieces), _body(b"", False)]
    out, _ = asyncio.run(_through(messages))
    assert _page_of(out) == b"".join(pieces)
    assert all(len(m.get("body", b"")) <= MAX_INJECT_BUFFER + 65536 for m in out[1:])


def test_the_pages_meta_csp_nonce_goes_on_the_streamed_banner() -> None:
    head = (
        b"<!doctype html><html><head><meta http-equiv=Content-Security-Policy"
        b" content=\"script-src 'nonce-streamed1'\"></head><body>"
    )
    messages = [_start([HTML]), _body(head), _body(b"<p>x</p></body>"), _body(b"", False)]
    out, _ = asyncio.run(_through(messages))
    assert b'defer integrity="sha384-' in _page_of(out)
    assert b'nonce="streamed1"></script></body>' in _page_of(out)


class AppFailed(Exception):
    pass


async def _raise() -> None:
    raise AppFailed


async def _return() -> None:
    return None


@pytest.mark.parametrize("ending", [_raise, _return], ids=["raises", "returns"])
def test_an_app_that_stops_midway_sends_what_it_sent_as_without_the_gate(
    ending: Callable[[], Awaitable[None]],
) -> None:
    # A </body> held back when the app stops: it goes on, as far as the page came, no banner,
    # and no end message (the server cuts the response off, as it would without the gate).
    pieces = [DOC, b"<p>x</p></body>", b"<p>after"]
    messages = [_start([HTML]), *(_body(piece) for piece in pieces)]
    if ending is _raise:
        with pytest.raises(AppFailed):
            asyncio.run(_through(messages, after=ending))
        return
    out, _ = asyncio.run(_through(messages, after=ending))
    assert _page_of(out) == b"".join(pieces)
    assert all(m["more_body"] for m in out[1:])


def test_an_app_raising_midway_has_the_held_bytes_sent_first() -> None:
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    pieces = [DOC, b"<p>x</p></body>", b"<p>after"]
    messages = [_start([HTML]), *(_body(piece) for piece in pieces)]
    with pytest.raises(AppFailed):
        asyncio.run(_through(messages, after=_raise, send=record))
    assert _page_of(sent) == b"".join(pieces)
    assert b"cookiewall" not in _page_of(sent)


def test_a_client_gone_midway_is_the_apps_error_as_without_the_gate() -> None:
    sent: list[Message] = []

    async def gone_after_two(message: Message) -> None:
        if len(sent) == 2:
            raise OSError("client gone")
        sent.append(message)

    messages = [_start([HTML]), *(_body(piece) for piece in STREAMED), _body(b"", False)]
    with pytest.raises(OSError, match="client gone"):
        asyncio.run(_through(messages, send=gone_after_two))
    assert [m.get("body") for m in sent[1:]] == [DOC]
