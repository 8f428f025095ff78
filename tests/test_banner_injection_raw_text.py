"""Where the banner goes in a page whose `</body>` or `</html>` appears as text: in a script's
string, a style, a textarea, a title, a comment, or inside a <template> (never shown).

A page with no real `</body>` but one in a script's string (`<script>var s = "</body>";`)
got the banner inside that string: the banner's own `</script>` ended the page's script early,
and the visitor saw no banner. The page is now read as HTML's tokenizer reads it (text
elements and comments skipped whole), in one pass.
"""

from __future__ import annotations

import time

import pytest

from cookiewall.banner import inject
from tests.test_cookiewall_support import call, gate_serving

SNIPPET = b"<BANNER>"
DOC = b"<!doctype html><html><body>"

# (page, what comes right before the banner, what comes after it)
PAGES = [
    pytest.param(
        DOC + b'<script>var s = "</body>";</script><p>x</p>', b"<p>x</p>", b"", id="script-string"
    ),
    pytest.param(
        DOC + b'<script>var s = "</body></html>";</script><p>x</p></html>\n',
        b"<p>x</p>",
        b"</html>\n",
        id="script-string-and-real-html-end",
    ),
    pytest.param(
        DOC + b'<SCRIPT type="text/javascript">s = "</BODY>";</SCRIPT ><P>x</P>',
        b"<P>x</P>",
        b"",
        id="upper-case-script-end-tag-with-space",
    ),
    pytest.param(
        DOC + b'<script data-x="a>b">s = "</body>";</script\n><p>x</p>',
        b"<p>x</p>",
        b"",
        id="script-attribute-with-gt",
    ),
    pytest.param(
        DOC + b'<script>s = "</scripts></body>";</script><p>x</p>',
        b"<p>x</p>",
        b"",
        id="script-longer-end-tag-name-is-text",
    ),
    pytest.param(DOC + b"<style>/* </body> */ p {}</style><p>x</p>", b"<p>x</p>", b"", id="style"),
    pytest.param(
        DOC + b"<textarea>paste </body> here</textarea><p>x</p>", b"<p>x</p>", b"", id="textarea"
    ),
    pytest.param(
        b"<!doctype html><title>a </body> b</title><p>x</p>", b"<p>x</p>", b"", id="title"
    ),
    pytest.param(
        DOC + b"<noscript><p>Turn on JavaScript</p></body></noscript><p>x</p>",
        b"<p>x</p>",
        b"",
        id="noscript",
    ),
    pytest.param(
        DOC + b"<template><p>t</p></body></template><p>x</p>", b"<p>x</p>", b"", id="template"
    ),
    pytest.param(
        DOC + b"<template><template></template></body></template><p>x</p>",
        b"<p>x</p>",
        b"",
        id="nested-template",
    ),
    # A real </body>, with the same words as text after it: the real one counts.
    pytest.param(
        DOC + b"<p>x</p></body><template></body></template></html>",
        b"<p>x</p>",
        b"</body><template></body></template></html>",
        id="template-after-real-end",
    ),
    pytest.param(
        DOC + b'<p>x</p></body><script>s = "</body>";</script></html>',
        b"<p>x</p>",
        b'</body><script>s = "</body>";</script></html>',
        id="script-after-real-end",
    ),
    # Names that start like a text element's are other elements.
    pytest.param(
        DOC + b"<script-loader><p>x</p></body><!-- c -->",
        b"<p>x</p>",
        b"</body><!-- c -->",
        id="custom-element-named-script-something",
    ),
    # Comments end as HTML ends them.
    pytest.param(
        DOC + b"<!-- a --!><p>x</p></body><!-- b -->",
        b"<p>x</p>",
        b"</body><!-- b -->",
        id="comment-ended-with-bang",
    ),
    pytest.param(
        DOC + b"<!--><p>x</p></body><!-- b -->",
        b"<p>x</p>",
        b"</body><!-- b -->",
        id="empty-comment",
    ),
    # Left open to the end of the page: the banner goes before it, not into it.
    pytest.param(
        DOC + b'<p>x</p><script>var s = "</body>";',
        b"<p>x</p>",
        b'<script>var s = "</body>";',
        id="script-left-open",
    ),
    pytest.param(
        DOC + b"<p>x</p><!-- </body> old footer",
        b"<p>x</p>",
        b"<!-- </body> old footer",
        id="comment-left-open",
    ),
    pytest.param(
        DOC + b"<p>x</p><plaintext></body> as text",
        b"<p>x</p>",
        b"<plaintext></body> as text",
        id="plaintext",
    ),
    # The usual page stays as it was.
    pytest.param(
        DOC + b"<script>var a = 1;</script><p>x</p></body>\n</html>\n",
        b"<p>x</p>",
        b"</body>\n</html>\n",
        id="usual-page",
    ),
]


@pytest.mark.parametrize(("page", "before", "after"), PAGES)
def test_the_banner_goes_where_the_browser_reads_markup(
    page: bytes, before: bytes, after: bytes
) -> None:
    injected = inject(page, SNIPPET)
    assert injected is not None
    at = injected.index(SNIPPET)
    assert injected[:at].endswith(before)
    assert injected[at + len(SNIPPET) :] == after


@pytest.mark.parametrize(
    "fragment",
    [
        b'<div><script>var s = "</body>";</script></div>',
        b"<textarea></body></textarea>",
        b"<template></body></template>",
    ],
)
def test_a_fragment_whose_only_body_end_is_text_stays_as_it_is(fragment: bytes) -> None:
    assert inject(fragment, SNIPPET) is None


def test_through_the_gate_the_pages_script_stays_whole_and_the_banner_follows_it() -> None:
    page = b'<!doctype html><html><body><script>var s = "</body>";</script><p>x</p>'
    body = call(gate_serving(page), "GET", "/").content
    assert b'<script>var s = "</body>";</script><p>x</p><link rel="stylesheet"' in body
    assert body.index(b"data-cookiewall") > body.index(b"<p>x</p>")


# Pages built to make a careless reader slow: every one is read in one pass.
HOSTILE = {
    "many-scripts": DOC + b'<script>s="</body>"</script>' * 100_000,
    "many-comments": DOC + b"<!-- </body> -->" * 100_000,
    "openers-never-closed": DOC + b"<script <style <!-- <textarea " * 50_000,
    "templates": DOC + b"<template>" * 100_000 + b"</body>" * 100_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pages_take_linear_time(name: str) -> None:
    page = HOSTILE[name]
    started = time.thread_time()
    inject(page, SNIPPET)
    whole = time.thread_time() - started
    started = time.thread_time()
    inject(page[: len(page) // 4], SNIPPET)
    quarter = time.thread_time() - started
    # Quadratic would be 16 times; linear, 4 (plus noise on a shared machine).
    assert whole < max(10 * quarter, 0.05), (whole, quarter)
