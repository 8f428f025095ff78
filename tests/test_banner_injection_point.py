"""Where the gate puts the banner in a page: before the page's real `</body>` (not one inside a
script or a comment), at the end of a whole page that leaves `</body>` out, never into a
fragment; the page's own markup stays whole."""

from __future__ import annotations

import pytest

from cookiewall.banner import inject
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
    assert b"data-cookiewall" in body
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


# -- where the banner goes in pages with unusual markup ------------------------------------
# The banner went before the last `</body>` spelled in lower case, or failing that any case.
# A page written in upper case (`</BODY>`) with a lower-case `</body>` in a script's string got
# the banner inside that string: the banner's own `</script>` ended the page's script early
# (the page broke, the banner never showed). A `</body>` in a comment after the page (a build
# note, an old template's leftovers) got it inside the comment: no banner, no way to decide.

SNIPPET = b"<BANNER>"


UNUSUAL_PAGES = [
    pytest.param(
        b'<!DOCTYPE html><HTML><BODY><SCRIPT>var end = "</body>";</SCRIPT><P>x</P></BODY></HTML>',
        b"<P>x</P>",
        b"</BODY></HTML>",
        id="upper-case-page-lower-case-in-script",
    ),
    pytest.param(
        b"<!doctype html><html><body><p>x</p></Body></html>",
        b"<p>x</p>",
        b"</Body></html>",
        id="mixed-case",
    ),
    pytest.param(
        b"<!doctype html><body><p>x</p></body></html>\n<!-- old layout: </body> -->\n",
        b"<p>x</p>",
        b"</body></html>\n<!-- old layout: </body> -->\n",
        id="comment-after-page",
    ),
    pytest.param(
        b"<!doctype html><body><p>x</p><!-- </BODY> --></body></html>",
        b"<!-- </BODY> -->",
        b"</body></html>",
        id="comment-before-end",
    ),
    pytest.param(
        b"<!doctype html><body><p>x</p></body></html><!-- </body><!-- </body> -->",
        b"<p>x</p>",
        b"</body></html><!-- </body><!-- </body> -->",
        id="comment-with-nested-opener",
    ),
    pytest.param(
        b"<!doctype html><p>x</p><!-- </body> -->",
        b"<!-- </body> -->",
        b"",
        id="only-in-a-comment",
    ),
    # A "<!--" in a script's string is script text, not a comment: the real </body> counts.
    pytest.param(
        b'<head><script>var a = "<!--";</script></head><body><p>x</p></body><!-- built -->',
        b"<p>x</p>",
        b"</body><!-- built -->",
        id="comment-opener-in-a-script",
    ),
    # What already worked stays so.
    pytest.param(
        b"<!doctype html><body><!-- nav --><p>x</p></body></html>",
        b"<p>x</p>",
        b"</body></html>",
        id="plain",
    ),
    pytest.param(
        b'<!doctype html><body><script>var end = "</body>";</script><p>x</p></body></html>',
        b"<p>x</p>",
        b"</body></html>",
        id="lower-case-in-script",
    ),
    pytest.param(
        b"<!DOCTYPE html><HTML><BODY><P>x</P></BODY></HTML>",
        b"<P>x</P>",
        b"</BODY></HTML>",
        id="upper-case",
    ),
]


@pytest.mark.parametrize(("page", "before", "after"), UNUSUAL_PAGES)
def test_the_banner_goes_before_the_pages_real_body_end(
    page: bytes, before: bytes, after: bytes
) -> None:
    injected = inject(page, SNIPPET)
    assert injected is not None
    at = injected.index(SNIPPET)
    assert injected[:at].endswith(before)
    assert injected[at + len(SNIPPET) :] == after


def test_an_upper_case_page_keeps_its_script_whole_through_the_gate() -> None:
    page = b'<!DOCTYPE html><HTML><BODY><SCRIPT>var end = "</body>";</SCRIPT><P>x</P></BODY></HTML>'
    body = call(gate_serving(page), "GET", "/").content
    assert b'<SCRIPT>var end = "</body>";</SCRIPT>' in body
    assert body.index(b"data-cookiewall") > body.index(b"<P>x</P>")
    assert body.endswith(b"</BODY></HTML>")
