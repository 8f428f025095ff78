"""The injected banner in a page whose Content-Type names no charset the gate can use.

Such a page's encoding is decided by the browser (a `<meta charset>`, else the locale's
default, windows-1252 in Western Europe), not by the gate: a banner written as UTF-8 showed
German and French words as mojibake ("wÃ¤hlen"). Written as ASCII with character
references, it reads the same in every ASCII-compatible encoding.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

import pytest

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, http_scope, make_policy, run_asgi


def _page(encoding: str) -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="{encoding}"><title>t</title></head>'
        "<body><p>Grüße, café</p></body></html>"
    ).encode(encoding)


def _served(content_type: bytes, page: bytes, language: bytes) -> bytes:
    async def site(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(page)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    gate = ConsentMiddleware(site, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    headers = [(b"host", b"testserver"), (b"accept-language", language)]
    messages = asyncio.run(run_asgi(gate, http_scope(headers=headers)))
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    length = dict(start["headers"])[b"content-length"]
    assert int(length) == len(body)
    return body


@pytest.mark.parametrize("encoding", ["windows-1252", "iso-8859-15", "utf-8"])
@pytest.mark.parametrize(
    ("language", "words"),
    [(b"de", "Kategorien wählen"), (b"fr", "Catégories de cookies")],
)
@pytest.mark.parametrize(
    "content_type",
    [b"text/html", b"text/html;", b"TEXT/HTML; q=1", b"text/html; charset=x-no-such-charset"],
)
def test_banner_reads_right_in_the_pages_own_encoding(
    content_type: bytes, encoding: str, language: bytes, words: str
) -> None:
    page = _page(encoding)
    body = _served(content_type, page, language)
    assert body != page, "the banner was not injected"
    # As the browser reads the page: in the encoding its <meta> names.
    text = html.unescape(body.decode(encoding))
    assert words in text
    assert "Grüße, café" in text  # the page's own bytes are untouched
    start = body.index(b'<link rel="stylesheet"')
    end = body.rindex(b"</body>")
    assert body[start:end].isascii()


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        (b"text/html; charset=utf-8", "utf-8"),
        (b'text/html; charset="UTF-8"', "utf-8"),
        (b"text/html; charset=iso-8859-1", "iso-8859-1"),
    ],
)
def test_a_declared_charset_is_still_written_in(content_type: bytes, encoding: str) -> None:
    body = _served(content_type, _page(encoding), b"de")
    assert "Kategorien wählen".encode(encoding) in body
