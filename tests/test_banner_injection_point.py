"""Where the gate puts the banner in a page: before the page's real `</body>` (not one inside a
script or a comment), at the end of a whole page that leaves `</body>` out, never into a
fragment; the page's own markup stays whole."""

from __future__ import annotations

import pytest

from tests.test_cookiewall_support import call, gate_serving

WHOLE_PAGES_WITHOUT_BODY_END = [
    # HTML lets a page leave out </body> and </html> (the parser closes them): such a page,
    # served as a whole document, had no banner at all, so its visitor could not decide.
    (b"<!doctype html><html><head><title>t</title></head><p>Hello", b"<p>Hello", b""),
    (
        b"<!DOCTYPE html>\n<title>t</title>\n<p>Hello</p>\n</html>\n",
        b"<p>Hello</p>\n",
        b"</html>\n",
    ),
    (b"<html lang=en><p>Hello", b"<p>Hello", b""),
    (b"<!-- built 2026 -->\n<!doctype html><p>Hello", b"<p>Hello", b""),
    (b"\xef\xbb\xbf<!doctype html><p>Hello", b"<p>Hello", b""),
]


@pytest.mark.parametrize(("page", "before", "after"), WHOLE_PAGES_WITHOUT_BODY_END)
def test_a_whole_page_without_body_end_gets_the_banner_at_its_end(
    page: bytes, before: bytes, after: bytes
) -> None:
    response = call(gate_serving(page), "GET", "/")
    body = response.content
    assert b'id="cookiewall"' in body
    banner_at = body.index(b"<link rel=")
    assert body[:banner_at].endswith(before)
    assert body[body.index(b"</script>") + len(b"</script>") :] == after
    assert response.headers["content-length"] == str(len(body))


@pytest.mark.parametrize(
    "fragment",
    [
        b"<p>fragment without body end</p>",
        b"<tr><td>a row for htmx</td></tr>",
        b"<div>" + b"x" * 2000 + b"<html></div>",  # a late '<html' is no document start
    ],
)
def test_a_fragment_without_body_end_stays_as_it_is(fragment: bytes) -> None:
    # Partial pages (htmx, fetch) are put into a page that has its own banner.
    assert call(gate_serving(fragment), "GET", "/").content == fragment
