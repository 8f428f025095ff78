"""The banner's note on a category a visitor's browser signal refuses: Global Privacy Control
always, Do Not Track as well when the gate honours it, in every shipped language. The banner
injected into a page shows it as `/consent/banner` does, and the page varies on the signal."""

from __future__ import annotations

import re

import pytest

from cookiewall.banner import Banner
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

# --- Under honor_dnt, the note on a refused category names both signals ----------------

GPC_ONLY = {
    "en": "off while your browser sends Global Privacy Control",
    "de": "aus, solange Ihr Browser Global Privacy Control sendet",
    "fr": "désactivé tant que votre navigateur envoie Global Privacy Control",
}


EITHER_SIGNAL = {
    "en": "off while your browser asks not to be tracked (Global Privacy Control or Do Not Track)",
    "de": (
        "aus, solange Ihr Browser darum bittet, nicht verfolgt zu werden"
        " (Global Privacy Control oder Do Not Track)"
    ),
    "fr": (
        "désactivé tant que votre navigateur demande à ne pas être suivi"
        " (Global Privacy Control ou Do Not Track)"
    ),
}


def _refused_note(banner: Banner, language: str) -> str:
    """The banner of a visitor whose signal refuses `marketing` (gpc_opt_out in make_policy)."""
    signalled = ConsentCodec(banner.policy, SECRET).undecided(True)
    return banner.fragment(language, "/", signalled)


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("honor_dnt", [True, False])
def test_the_refused_note_names_the_signals_the_gate_honours(
    language: str, honor_dnt: bool
) -> None:
    markup = _refused_note(Banner(make_policy(), "/consent", honor_dnt=honor_dnt), language)
    said, unsaid = (EITHER_SIGNAL, GPC_ONLY) if honor_dnt else (GPC_ONLY, EITHER_SIGNAL)
    assert markup.count(f"({said[language]})") == 1
    assert unsaid[language] not in markup


def test_the_banner_honours_no_dnt_unless_told() -> None:
    markup = _refused_note(Banner(make_policy(), "/consent"), "en")
    assert GPC_ONLY["en"] in markup
    assert "Do Not Track" not in markup


@pytest.mark.parametrize(
    ("texts", "honor_dnt", "note"),
    [
        ({"en": {"gpc_dnt_refused": "off: <GPC> or DNT"}}, True, "off: &lt;GPC&gt; or DNT"),
        # The operator's GPC wording stays theirs where the gate honours GPC alone...
        ({"en": {"gpc_refused": "off (GPC)", "gpc_dnt_refused": "x"}}, False, "off (GPC)"),
        # ...and a language the policy adds inherits the DNT note like any other text.
        ({"it": {"title": "Cookie"}}, True, EITHER_SIGNAL["en"]),
    ],
)
def test_the_policy_words_the_dnt_note(
    texts: dict[str, dict[str, str]], honor_dnt: bool, note: str
) -> None:
    banner = Banner(make_policy(texts=texts), "/consent", honor_dnt=honor_dnt)
    language = next(iter(texts))
    assert f"({note})" in _refused_note(banner, language)


@pytest.mark.parametrize("honor_dnt", [1, "yes", None])
def test_honor_dnt_must_be_a_boolean(honor_dnt: object) -> None:
    with pytest.raises(ValueError, match="honor_dnt must be True or False"):
        Banner(make_policy(), "/consent", honor_dnt=honor_dnt)  # type: ignore[arg-type]


# The gate builds its Banner with its own honor_dnt.
@pytest.mark.parametrize("where", ["/consent/banner?next=/", "/?set=session"])
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_gates_banners_under_dnt_name_both_signals(where: str, language: str) -> None:
    app = make_app(honor_dnt=True, inject_banner=True)
    headers = {"dnt": "1", "accept": "text/html", "accept-language": language}
    markup = call(app, "GET", where, headers=headers).text
    assert f"({EITHER_SIGNAL[language]})" in markup
    assert GPC_ONLY[language] not in markup


GPC_NOTE = {
    "en": "(off while your browser sends Global Privacy Control)",
    "de": "(aus, solange Ihr Browser Global Privacy Control sendet)",
    "fr": "(désactivé tant que votre navigateur envoie Global Privacy Control)",
}


def _box(markup: str, category: str) -> str:
    """The start tag of `category`'s checkbox (its state, then its name's and description's ids)."""
    found = re.search(rf'<input type="checkbox" name="categories" value="{category}"[^>]*>', markup)
    assert found is not None, markup
    return found.group(0)


def _refused(markup: str, category: str) -> bool:
    """`category`'s box is off and fixed (else it is off and free: none of these is decided)."""
    box = _box(markup, category)
    assert " checked" not in box
    return " disabled" in box


def _section(page: str) -> str:
    """The banner's <section> out of a page or a fragment."""
    found = re.search(r'<section class="cookiewall".*?</section>', page, re.S)
    assert found is not None, page
    return found.group(0)


# -- the injected banner under Global Privacy Control ---------------------------------------


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
    assert _refused(snippet, "marketing") is gpc


def test_the_snippet_without_a_consent_is_still_the_undecided_banner() -> None:
    # The old call (no consent) keeps working: nothing fixed, nothing explained.
    policy = make_policy()
    snippet = Banner(policy, "/consent").snippet("en", "/")
    assert not _refused(snippet, "marketing")
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
    assert _refused(injected, "marketing") is refused
    # The no-JS form still posts every other optional category.
    assert not _refused(injected, "analytics")


def test_a_page_whose_banner_depends_on_gpc_varies_on_it() -> None:
    # A browser cache keyed on Cookie and Accept-Language alone would show the banner of a
    # visit with GPC on after it is switched off, or the other way round.
    app = make_app(inject_banner=True)
    page = call(app, "GET", "/?set=session", headers={"sec-gpc": "1"})
    vary = {token.strip().lower() for token in page.headers["vary"].split(",")}
    assert {"cookie", "accept-language", "sec-gpc"} <= vary
