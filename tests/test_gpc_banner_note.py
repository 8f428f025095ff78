"""The banner's note on a category a visitor's browser signal refuses: Global Privacy Control
always, Do Not Track as well when the gate honours it, in every shipped language."""

from __future__ import annotations

import pytest

from cookiewall.banner import Banner
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

# --- 1. Under honor_dnt, the note on a refused category names both signals ----------------

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
