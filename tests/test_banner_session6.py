"""Session 6 banner review: the banner injected into pages is the one `/consent/banner`
shows the same visitor (Global Privacy Control included), and what a visitor meets with
unusual pages, keyboards and screen readers (without a browser)."""

from __future__ import annotations

import re

import pytest

from cookiewall.banner import Banner, inject
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import SECRET, call, gate_serving, make_app, make_policy
from tests.test_gpc_banner_note import EITHER_SIGNAL

GPC_NOTE = {
    "en": "(off while your browser sends Global Privacy Control)",
    "de": "(aus, solange Ihr Browser Global Privacy Control sendet)",
    "fr": "(désactivé tant que votre navigateur envoie Global Privacy Control)",
}
MARKETING_REFUSED = '<input type="checkbox" name="categories" value="marketing" disabled>'
MARKETING_OPEN = '<input type="checkbox" name="categories" value="marketing">'


def _section(page: str) -> str:
    """The banner's <section> out of a page or a fragment."""
    found = re.search(r'<section class="cookiewall".*?</section>', page, re.S)
    assert found is not None, page
    return found.group(0)


# -- 1. the injected banner under Global Privacy Control ---------------------------------------


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("gpc", [True, False], ids=["gpc", "no-gpc"])
def test_the_snippet_given_a_consent_is_the_banner_endpoints_fragment(
    language: str, gpc: bool
) -> None:
    policy = make_policy()
    banner = Banner(policy, "/consent")
    consent = ConsentCodec(policy, SECRET).undecided(gpc)
    snippet = banner.snippet(language, "/shop?x=1", consent)
    headers = {"accept-language": language, **({"sec-gpc": "1"} if gpc else {})}
    endpoint = call(
        make_app(policy=policy), "GET", "/consent/banner?next=/shop%3Fx%3D1", headers=headers
    )
    assert endpoint.status_code == 200
    assert _section(snippet) == _section(endpoint.text)
    assert (GPC_NOTE[language] in snippet) is gpc
    assert (MARKETING_REFUSED in snippet) is gpc
    assert (MARKETING_OPEN in snippet) is not gpc


def test_the_snippet_without_a_consent_is_still_the_undecided_banner() -> None:
    # The old call (no consent) keeps working: nothing fixed, nothing explained.
    policy = make_policy()
    snippet = Banner(policy, "/consent").snippet("en", "/")
    assert MARKETING_OPEN in snippet
    assert GPC_NOTE["en"] not in snippet


@pytest.mark.parametrize(
    ("headers", "honor_dnt", "refused"),
    [
        pytest.param({"sec-gpc": "1"}, False, True, id="gpc"),
        pytest.param({"sec-gpc": " 1 "}, False, True, id="gpc-spaces"),
        pytest.param({"dnt": "1"}, True, True, id="dnt-honored"),
        pytest.param({"sec-gpc": "0"}, False, False, id="gpc-0"),
        pytest.param({"sec-gpc": "yes"}, False, False, id="gpc-yes"),
        pytest.param({"dnt": "1"}, False, False, id="dnt-ignored"),
        pytest.param({}, False, False, id="none"),
    ],
)
def test_the_injected_banner_shows_what_gpc_refuses_like_the_endpoint(
    headers: dict[str, str], honor_dnt: bool, refused: bool
) -> None:
    app = make_app(inject_banner=True, honor_dnt=honor_dnt)
    page = call(app, "GET", "/?set=session", headers=headers)
    endpoint = call(app, "GET", "/consent/banner?next=/%3Fset%3Dsession", headers=headers)
    assert page.status_code == endpoint.status_code == 200
    injected = _section(page.text)
    assert injected == _section(endpoint.text)
    # Under honor_dnt the note names both signals (DNT may be the one that was sent).
    note = GPC_NOTE["en"] if not honor_dnt else f"({EITHER_SIGNAL['en']})"
    assert (note in injected) is refused
    assert (MARKETING_REFUSED in injected) is refused
    # The no-JS form still posts every other optional category.
    assert 'value="analytics">' in injected


def test_a_page_whose_banner_depends_on_gpc_varies_on_it() -> None:
    # A browser cache keyed on Cookie and Accept-Language alone would show the banner of a
    # visit with GPC on after it is switched off, or the other way round.
    app = make_app(inject_banner=True)
    page = call(app, "GET", "/?set=session", headers={"sec-gpc": "1"})
    vary = {token.strip().lower() for token in page.headers["vary"].split(",")}
    assert {"cookie", "accept-language", "sec-gpc"} <= vary


# -- 3a. where the banner goes in pages with unusual markup ------------------------------------
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
    # A "<!--" in a script's string looks like an open comment: never a lost banner for it.
    pytest.param(
        b'<head><script>var a = "<!--";</script></head><body><p>x</p></body><!-- built -->',
        b"<!-- built -->",
        b"",
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
    assert body.index(b'id="cookiewall"') > body.index(b"<P>x</P>")
    assert body.endswith(b"</BODY></HTML>")
