"""A streamed page whose `<meta http-equiv="Content-Security-Policy">` comes after 64 KiB of
its head (inline critical CSS, an inline script) gets a banner carrying that policy's nonce,
as the same page sent whole does.

The gate kept a streamed page's first 64 KiB to read its `<meta>` policies from: a policy
past them was never seen, and one cut by that boundary was read cut (a shorter nonce). The
banner's script and stylesheet then went without the nonce the page's policy asks for: the
browser blocked them, and the visitor got a banner they could not use. The head is now kept
until its end as `meta_policies` reads it (bounded by MAX_INJECT_BUFFER), and no further.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cookiewall.banner import meta_head_end, meta_policies
from cookiewall.middleware import MAX_INJECT_BUFFER
from tests.test_cookiewall_support import served_streamed

Message = dict[str, Any]
HTML = (b"content-type", b"text/html; charset=utf-8")
NONCE = b"n0nce-for-the-banner"
META = (
    b'<meta http-equiv="Content-Security-Policy"'
    b" content=\"script-src 'nonce-" + NONCE + b"'; style-src 'nonce-" + NONCE + b"'\">"
)
REST = b"</head><body><p>x</p></body></html>\n"


def _page(before_meta: bytes) -> bytes:
    return b"<!doctype html><html><head>" + before_meta + META + REST


def _style(size: int) -> bytes:
    return b"<style>" + b"a{}" * (size // 3) + b"</style>"


# The meta at 64 KiB exactly cuts it in two where the gate used to stop keeping the head.
_AT_THE_OLD_BOUNDARY = 64 * 1024 - len(b"<!doctype html><html><head>") - 40


@pytest.mark.parametrize("size", [1000, 8192, 65536])
@pytest.mark.parametrize(
    "before_meta",
    [
        pytest.param(_style(70_000), id="70k-style"),
        pytest.param(_style(400_000), id="400k-style"),
        pytest.param(b"<script>" + b"x=1;" * 30_000 + b"</script>", id="120k-script"),
        pytest.param(b"<!--" + b"c" * 100_000 + b"-->", id="100k-comment"),
        pytest.param(_style(_AT_THE_OLD_BOUNDARY), id="meta-across-64k"),
        pytest.param(_style(1000), id="short-head"),
    ],
)
def test_the_banner_carries_the_nonce_of_a_meta_policy_after_a_long_head(
    before_meta: bytes, size: int
) -> None:
    page = _page(before_meta)
    whole = asyncio.run(served_streamed([page]))
    assert b'nonce="' + NONCE + b'"' in whole
    pieces = [page[at : at + size] for at in range(0, len(page), size)]
    assert asyncio.run(served_streamed([*pieces, b""])) == whole


def test_a_head_longer_than_the_bound_is_not_kept_whole_and_the_page_still_gets_the_banner() -> (
    None
):
    page = _page(_style(40_000) * (MAX_INJECT_BUFFER // 40_000 + 2))
    pieces = [page[at : at + 65536] for at in range(0, len(page), 65536)]
    streamed = asyncio.run(served_streamed([*pieces, b""]))
    assert b"data-cookiewall" in streamed
    assert streamed.index(b"data-cookiewall") > streamed.index(META)


@pytest.mark.parametrize(
    ("head", "end"),
    [
        # Read to where the head is over: the first element that cannot be in it.
        (b"<html><head>" + META + b"</head><body>", len(b"<html><head>" + META + b"</head>")),
        (b"<title>t</title><p>", len(b"<title>t</title>")),
        # Cut before that: in a comment, a style, a tag's name or attributes, or no tag yet.
        (b"<html><head><!-- open", -1),
        (b"<html><head><style>a{}", -1),
        (b"<html><head><me", -1),
        (META[:40], -1),
        (b"<html><head>" + META, -1),
        (b"", -1),
    ],
)
def test_meta_head_end_tells_a_whole_head_from_a_cut_one(head: bytes, end: int) -> None:
    assert meta_head_end(head) == end
    if end >= 0:
        assert list(meta_policies(head[:end])) == list(meta_policies(head))
