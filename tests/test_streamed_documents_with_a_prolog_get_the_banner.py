"""A whole document that does not open with `<!doctype html` or `<html` right away gets the
banner when streamed, as it does sent whole.

An XHTML page served as text/html opens with its XML declaration (`<?xml version="1.0"?>`),
and a doctype may have more white space than one space before its name (`<!DOCTYPE  html>`,
`<!DOCTYPE\\nhtml PUBLIC ...>`). Sent whole, such a page got the banner before its real
`</body>`; streamed, its first bytes were taken for a fragment's and it passed without the
banner: its undecided visitor was never asked. HTML's tokenizer reads `<?...>` as a (bogus)
comment and skips white space before a doctype's name: so do `document_start` and `inject`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cookiewall.banner import document_start, inject
from tests.test_cookiewall_support import served_streamed

Message = dict[str, Any]
HTML = (b"content-type", b"text/html; charset=utf-8")
BANNER = b"data-cookiewall"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
XHTML_DOCTYPE = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
    b' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
)
BODY = b"<head><title>t</title></head><body><p>x</p></body></html>\n"

DOCUMENTS = [
    pytest.param(XML_DECLARATION + XHTML_DOCTYPE + b"<html>" + BODY, id="xhtml-with-declaration"),
    pytest.param(XML_DECLARATION + b"<html>" + BODY, id="declaration-then-html"),
    pytest.param(b"\xef\xbb\xbf" + XML_DECLARATION + b"<html>" + BODY, id="bom-declaration"),
    pytest.param(XML_DECLARATION + b"<!-- built -->\n<!doctype html>" + BODY, id="decl-comment"),
    pytest.param(b"<!DOCTYPE  html><html>" + BODY, id="doctype-two-spaces"),
    pytest.param(b"<!DOCTYPE\nhtml PUBLIC '-//W3C//DTD HTML 4.01//EN'>" + BODY, id="doctype-nl"),
    pytest.param(b"<!doctype\thtml>" + BODY, id="doctype-tab"),
]


@pytest.mark.parametrize("size", [1, 5, 64, 4096])
@pytest.mark.parametrize("page", DOCUMENTS)
def test_a_streamed_document_with_a_prolog_gets_the_banner_as_sent_whole(
    page: bytes, size: int
) -> None:
    whole = asyncio.run(served_streamed([page]))
    assert BANNER in whole
    pieces = [page[at : at + size] for at in range(0, len(page), size)]
    assert asyncio.run(served_streamed([*pieces, b""])) == whole


@pytest.mark.parametrize("page", DOCUMENTS)
def test_no_start_of_such_a_document_is_taken_for_a_fragment(page: bytes) -> None:
    for end in range(len(page) + 1):
        assert document_start(page[:end], complete=False) in (None, True), page[:end]
    assert document_start(page, complete=True) is True


@pytest.mark.parametrize("page", DOCUMENTS)
def test_such_a_document_without_a_body_end_gets_the_banner_at_its_end(page: bytes) -> None:
    cut = page[: page.index(b"</body>")]
    assert inject(cut, b"<BANNER>") == cut + b"<BANNER>"


@pytest.mark.parametrize(
    "fragment",
    [
        XML_DECLARATION + b"<div><p>partial</p></div>",
        b"<?xml version='1.0'?><header>not a head</header>",
        b"<!doctype\n",
        b"<?xml never closed",
        b"<header><p>partial</p></header>",
    ],
)
def test_fragments_stay_fragments(fragment: bytes) -> None:
    assert document_start(fragment, complete=True) is False
    assert inject(fragment, b"<BANNER>") is None
