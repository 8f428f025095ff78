"""The injected script and stylesheet carry the nonce of a policy the page sets itself, with
`<meta http-equiv="Content-Security-Policy" content="…">` in its head.

Static sites and many CMSs set their CSP that way, where the gate sees no header: a nonce
there binds the injected `<script src>` as a header's does, and without it banner.js was
blocked (test_browser_banner_csp_meta_and_hashes.py shows Chromium doing so). The meta is
read as the browser reads it: attributes in any order and case, any quoting, character
references resolved; only one in the head counts, not one in a comment, a script's text or
the body; and only a nonce of base64 characters is used.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pytest
from starlette.types import Receive, Scope, Send

from cookiewall import ConsentMiddleware
from cookiewall.banner import csp_nonces, meta_policies
from tests.test_cookiewall_support import SECRET, call, make_policy

N = "m3ta+N/once_-=="
STRICT = f"script-src &#39;nonce-{N}&#39; &#39;strict-dynamic&#39;; object-src &#39;none&#39;"


def _meta(attributes: str) -> str:
    return f"<meta {attributes}>"


HEAD_TABLE = [
    # (what the page's head holds, script nonce, style nonce)
    (_meta(f'http-equiv="Content-Security-Policy" content="{STRICT}"'), N, None),
    (_meta(f'http-equiv="content-security-policy" content="default-src \'nonce-{N}\'"'), N, N),
    (_meta(f'content="style-src \'nonce-{N}\'" http-equiv="Content-Security-Policy"'), None, N),
    (_meta(f"HTTP-EQUIV='CONTENT-SECURITY-POLICY' CONTENT=\"script-src 'nonce-{N}'\""), N, None),
    (f"<META Http-Equiv=Content-Security-Policy Content=\"script-src 'NONCE-{N}'\" />", N, None),
    # Character references, named, decimal and hexadecimal, as the browser resolves them.
    (
        _meta(f'http-equiv="Content-Security-Policy" content="script-src &apos;nonce-{N}&apos;"'),
        N,
        None,
    ),
    (
        _meta(f'http-equiv="Content-Security-Policy" content="script-src &#x27;nonce-{N}&#x27;"'),
        N,
        None,
    ),
    (_meta(f"http-equiv=&#67;ontent-Security-Policy content=\"script-src 'nonce-{N}'\""), N, None),
    # The attribute in single quotes holds the policy's quotes as references.
    (
        _meta(f"http-equiv='Content-Security-Policy' content='script-src &#39;nonce-{N}&#39;'"),
        N,
        None,
    ),
    # Unquoted: no space may be written, but a reference can be one.
    (
        _meta(f"http-equiv=Content-Security-Policy content=script-src&#32;&#39;nonce-{N}&#39;"),
        N,
        None,
    ),
    # Spread over lines, with a charset meta before it and other attributes around it.
    (
        '<meta charset="utf-8">\n<meta\n  data-x="a>b"\n  http-equiv = "Content-Security-Policy"'
        f"\n  content=\"script-src-elem 'nonce-{N}'; style-src-elem 'nonce-s2'\">",
        N,
        "s2",
    ),
    # A "<" in a quoted value is no tag, and does not end the head.
    (
        '<link rel="preload" href="/a?<p>" as="style"><meta name="description" content="a <p>">'
        f'<meta http-equiv="Content-Security-Policy" content="script-src \'nonce-{N}\'">',
        N,
        None,
    ),
    # A repeated attribute: the first counts, as in HTML.
    (
        _meta(
            f'http-equiv="Content-Security-Policy" content="script-src \'nonce-{N}\'"'
            " content=\"script-src 'nonce-second'\""
        ),
        N,
        None,
    ),
    # Two metas: both are enforced; the first that names a nonce gives it.
    (
        _meta('http-equiv="Content-Security-Policy" content="object-src \'none\'"')
        + _meta(f'http-equiv="Content-Security-Policy" content="script-src \'nonce-{N}\'"'),
        N,
        None,
    ),
    # What is no policy in the head gives nothing.
    (_meta(f'name="Content-Security-Policy" content="script-src \'nonce-{N}\'"'), None, None),
    (
        _meta(
            f'http-equiv="Content-Security-Policy-Report-Only" content="script-src \'nonce-{N}\'"'
        ),
        None,
        None,
    ),
    (
        _meta(f'http-equiv=" Content-Security-Policy" content="script-src \'nonce-{N}\'"'),
        None,
        None,
    ),
    (_meta('http-equiv="Content-Security-Policy"'), None, None),
    (
        f"<!-- <meta http-equiv=Content-Security-Policy content=\"script-src 'nonce-{N}'\"> -->",
        None,
        None,
    ),
    (
        "<script>document.write('<meta http-equiv=Content-Security-Policy"
        f' content="script-src &#39;nonce-{N}&#39;">\')</script>',
        None,
        None,
    ),
    (
        "<noscript><meta http-equiv=Content-Security-Policy"
        f" content=\"script-src 'nonce-{N}'\"></noscript>",
        None,
        None,
    ),
    (
        "<template><meta http-equiv=Content-Security-Policy"
        f" content=\"script-src 'nonce-{N}'\"></template>",
        None,
        None,
    ),
    (
        f"<metadata http-equiv=Content-Security-Policy content=\"script-src 'nonce-{N}'\">",
        None,
        None,
    ),
    # Never anything but base64 characters: markup in a meta's policy stays out of the page.
    (
        _meta(
            'http-equiv="Content-Security-Policy"'
            " content=\"script-src 'nonce-a&quot;&gt;&lt;b&gt;'\""
        ),
        None,
        None,
    ),
    (
        _meta('http-equiv="Content-Security-Policy" content="script-src \'nonce-a"><b>\'"'),
        None,
        None,
    ),
    (
        _meta('http-equiv="Content-Security-Policy" content="script-src \'nonce-caf&eacute;\'"'),
        None,
        None,
    ),
    (_meta('http-equiv="Content-Security-Policy" content="script-src \'self\'"'), None, None),
    ("", None, None),
]


def _gate(head: str, csp: Sequence[tuple[bytes, bytes]] = (), body: str = "") -> ConsentMiddleware:
    page = (
        f"<!doctype html><html><head><title>Shop</title>{head}</head>"
        f"<body>{body}<p>Hello</p></body></html>"
    ).encode()

    async def site(scope: Scope, receive: Receive, send: Send) -> None:
        length = str(len(page)).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": [*headers, *csp]})
        await send({"type": "http.response.body", "body": page})

    return ConsentMiddleware(site, policy=make_policy(), secret_key=SECRET, inject_banner=True)


def _injected_nonces(gate: ConsentMiddleware) -> tuple[str | None, str | None]:
    response = call(gate, "GET", "/")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    body = response.text
    assert "<b>" not in body[body.index('<link rel="stylesheet"') :]  # the page's own may
    start = body.index("<script src=")
    script = body[start : body.index("</script>", start)]
    start = body.index('<link rel="stylesheet"')
    link = body[start : body.index(">", start)]
    return _nonce(script), _nonce(link)


def _nonce(tag: str) -> str | None:
    if ' nonce="' not in tag:
        return None
    return tag.split(' nonce="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(("head", "script", "style"), HEAD_TABLE)
def test_the_injected_tags_carry_the_nonce_of_the_pages_meta_policy(
    head: str, script: str | None, style: str | None
) -> None:
    assert _injected_nonces(_gate(head)) == (script, style)


@pytest.mark.parametrize(
    "page",
    [
        b"<p>Hi</p><meta http-equiv=Content-Security-Policy content=\"script-src 'nonce-x'\">",
        b"<html><div><meta http-equiv=Content-Security-Policy content=\"script-src 'nonce-x'\">",
        b'<head></head><main><meta http-equiv=content-security-policy content="script-src">',
    ],
)
def test_an_element_of_the_body_ends_the_head_where_body_is_left_out(page: bytes) -> None:
    # HTML starts the body at the first element that cannot be in the head; a meta after it
    # binds nothing, and a long page is not read to its end.
    assert list(meta_policies(page)) == []


def test_a_meta_policy_in_the_body_is_none() -> None:
    # HTML applies a CSP <meta> only as a child of <head>: one in the body binds nothing.
    body = f"<meta http-equiv=Content-Security-Policy content=\"script-src 'nonce-{N}'\">"
    assert _injected_nonces(_gate("", body=body)) == (None, None)


HEADER_AND_META = [
    # (header, meta policy, script nonce, style nonce): the header's first, each kind alone.
    ("script-src 'nonce-header'", f"script-src 'nonce-{N}'", "header", None),
    ("script-src 'nonce-header'", f"style-src 'nonce-{N}'", "header", N),
    ("style-src 'nonce-header'", f"script-src 'nonce-{N}'", N, "header"),
    ("default-src 'self'", f"default-src 'nonce-{N}'", N, N),
]


@pytest.mark.parametrize(("header", "meta", "script", "style"), HEADER_AND_META)
def test_a_header_nonce_comes_before_the_metas(
    header: str, meta: str, script: str, style: str | None
) -> None:
    head = _meta(f'http-equiv="Content-Security-Policy" content="{meta}"')
    csp = [(b"content-security-policy", header.encode())]
    assert _injected_nonces(_gate(head, csp)) == (script, style)


def test_an_enforced_meta_nonce_comes_before_a_report_only_header() -> None:
    # The meta policy blocks; the report-only header only reports: the blocking one's nonce.
    head = _meta(f'http-equiv="Content-Security-Policy" content="script-src \'nonce-{N}\'"')
    csp = [(b"content-security-policy-report-only", b"script-src 'nonce-reported'")]
    assert _injected_nonces(_gate(head, csp)) == (N, None)


def test_the_page_is_not_read_once_the_headers_give_both_nonces() -> None:
    # Read lazily: a header that names both nonces leaves the page's head unread.
    read: list[bytes] = []

    def policies() -> Iterator[bytes]:
        for policy in meta_policies(b"<meta http-equiv=content-security-policy content=x>"):
            read.append(policy)
            yield policy

    header = [f"default-src 'nonce-{N}'".encode()]
    assert csp_nonces(itertools.chain(header, policies())) == (N, N)
    assert read == []
    assert csp_nonces(itertools.chain([b"script-src 'self'"], policies())) == (None, None)
    assert read == [b"x"]


@pytest.mark.parametrize(
    "page",
    [
        b"",
        b"<meta",
        b"<meta http-equiv",
        b"<meta http-equiv=content-security-policy content='unterminated",
        b"<!-- never closed <meta http-equiv=content-security-policy content=x>",
        b"<script>never closed <meta http-equiv=content-security-policy content=x>",
        b"<meta http-equiv=\xff\xfe content=\x00>",
        b"<meta " + b"a=b " * 10_000 + b">",
        # Read up to a bound: a head of a thousand tags is none a site writes.
        b"<!-- -->" * 1000
        + b"<meta http-equiv=content-security-policy content=\"script-src 'nonce-x'\">",
        b"<meta a=b>" * 1000
        + b"<meta http-equiv=content-security-policy content=\"script-src 'nonce-x'\">",
    ],
)
def test_broken_heads_give_no_nonce_and_no_error(page: bytes) -> None:
    assert csp_nonces(meta_policies(page)) == (None, None)


def test_a_policy_after_hundreds_of_head_tags_is_read() -> None:
    head = b"<link rel=preload href=/a.css as=style><!-- x --><script>var a = '<p>';</script>"
    meta = b"<meta http-equiv=content-security-policy content=\"script-src 'nonce-x'\">"
    assert csp_nonces(meta_policies(head * 300 + meta)) == ("x", None)
