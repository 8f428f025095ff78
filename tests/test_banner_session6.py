"""Session 6 banner review: the banner injected into pages is the one `/consent/banner`
shows the same visitor (Global Privacy Control included), and what a visitor meets with
unusual pages, keyboards and screen readers (without a browser)."""

from __future__ import annotations

import re

import pytest

from cookiewall.banner import Banner
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

GPC_NOTE = {
    "en": "(off while your browser sends Global Privacy Control)",
    "de": "(aus, solange Ihr Browser Global Privacy Control sendet)",
    "fr": "(désactivé tant que votre navigateur envoie Global Privacy Control)",
}
MARKETING_REFUSED = '<input type="checkbox" name="categories" value="marketing" disabled>'
MARKETING_OPEN = '<input type="checkbox" name="categories" value="marketing">'

# The middleware hands the snippet the visitor's consent only once the lead's change to
# cookiewall/middleware.py `_send_injected` is in (see the session 6 banner report): strict,
# so these start failing as "XPASS" the moment it lands and the marker is to be removed.
NEEDS_MIDDLEWARE = pytest.mark.xfail(
    strict=True,
    reason="cookiewall/middleware.py _send_injected must pass `consent` to banner.snippet",
)


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
        pytest.param({"sec-gpc": "1"}, False, True, id="gpc", marks=NEEDS_MIDDLEWARE),
        pytest.param({"sec-gpc": " 1 "}, False, True, id="gpc-spaces", marks=NEEDS_MIDDLEWARE),
        pytest.param({"dnt": "1"}, True, True, id="dnt-honored", marks=NEEDS_MIDDLEWARE),
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
    assert (GPC_NOTE["en"] in injected) is refused
    assert (MARKETING_REFUSED in injected) is refused
    # The no-JS form still posts every other optional category.
    assert 'value="analytics">' in injected


@NEEDS_MIDDLEWARE
def test_a_page_whose_banner_depends_on_gpc_varies_on_it() -> None:
    # A browser cache keyed on Cookie and Accept-Language alone would show the banner of a
    # visit with GPC on after it is switched off, or the other way round.
    app = make_app(inject_banner=True)
    page = call(app, "GET", "/?set=session", headers={"sec-gpc": "1"})
    vary = {token.strip().lower() for token in page.headers["vary"].split(",")}
    assert {"cookie", "accept-language", "sec-gpc"} <= vary
