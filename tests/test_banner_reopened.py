"""The "change your choice" banner shows the visitor's choice in force, in every language and
under Global Privacy Control; saving it unchanged keeps the choice, and one visitor's choice
never reaches another visitor's banner (without a browser; Chromium checks are in
tests/test_browser_banner_reopened.py)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from cookiewall.banner import Banner
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import (
    SECRET,
    call,
    consent_cookie,
    decide,
    make_app,
    make_policy,
)

OPTIONAL = ("preferences", "analytics", "marketing")  # make_policy's; marketing: gpc_opt_out


GPC = {"sec-gpc": "1"}


PAGE = {"sec-fetch-dest": "document"}  # a browser following a "change your choice" link


# --- the "change your choice" banner shows the choice in force ------------------------------

GPC_NOTE = "off while your browser sends Global Privacy Control"


class _Boxes(HTMLParser):
    """The banner's category checkboxes: name -> (checked, disabled)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, tuple[bool, bool]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name") == "categories":
            value = str(named["value"])
            assert value not in self.found, f"two boxes for {value}"
            self.found[value] = ("checked" in named, "disabled" in named)


def boxes(markup: str) -> dict[str, tuple[bool, bool]]:
    parser = _Boxes()
    parser.feed(markup)
    return parser.found


def reopened(app: object, cookie: str | None, **headers: str) -> str:
    if cookie is not None:
        headers["cookie"] = f"cookiewall={cookie}"
    response = call(app, "GET", "/consent/banner?next=/shop", headers=headers)
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("action", "chosen", "headers", "ticked", "refused"),
    [
        ("accept_all", (), {}, {"preferences", "analytics", "marketing"}, set()),
        ("reject_all", (), {}, set(), set()),
        ("save", ("analytics",), {}, {"analytics"}, set()),
        ("save", ("preferences", "marketing"), {}, {"preferences", "marketing"}, set()),
        ("save", ("analytics",), PAGE, {"analytics"}, set()),  # the whole page, same boxes
        # GPC refuses marketing whatever was chosen: off, fixed, and said why.
        ("accept_all", (), GPC, {"preferences", "analytics"}, {"marketing"}),
        ("save", ("analytics",), GPC, {"analytics"}, {"marketing"}),
        ("reject_all", (), {**GPC, **PAGE}, set(), {"marketing"}),
    ],
)
def test_the_reopened_banner_shows_the_choice_in_force(
    action: str,
    chosen: tuple[str, ...],
    headers: dict[str, str],
    ticked: set[str],
    refused: set[str],
) -> None:
    app = make_app()
    markup = reopened(app, decide(app, action, chosen), **headers)
    expected = {"necessary": (True, True)}  # required: always ticked and fixed
    for name in OPTIONAL:
        expected[name] = (name in ticked, name in refused)
    assert boxes(markup) == expected
    assert markup.count(GPC_NOTE) == len(refused)


def test_saving_the_reopened_banner_unchanged_keeps_the_choice() -> None:
    # Opened to look, or to take back one category: what was not touched stays as it was.
    app = make_app()
    cookie = decide(app, "save", ("preferences", "analytics"))
    found = boxes(reopened(app, cookie))
    submitted = [name for name, (checked, disabled) in found.items() if checked and not disabled]
    submitted.remove("analytics")  # the one box the visitor unticks
    response = call(
        app,
        "POST",
        "/consent",
        data={"action": "save", "categories": submitted, "next": "/"},
        headers={"cookie": f"cookiewall={cookie}"},
    )
    assert response.status_code == 303
    state = call(app, "GET", "/state", headers={"cookie": f"cookiewall={consent_cookie(response)}"})
    assert state.json()["granted"] == ["necessary", "preferences"]


def test_one_visitors_choice_never_reaches_another_visitors_banner() -> None:
    # The markup is cached per language and site: the choice must be filled in per request.
    app = make_app(inject_banner=True)
    everything = decide(app, "accept_all")
    analytics_only = decide(app, "save", ("analytics",))
    untouched = {"necessary": (True, True), **{name: (False, False) for name in OPTIONAL}}
    for _ in range(2):
        assert boxes(reopened(app, everything))["marketing"] == (True, False)
        assert boxes(reopened(app, None)) == untouched
        injected = call(app, "GET", "/?set=session", headers={"accept": "text/html"}).text
        assert boxes(injected) == untouched
        assert boxes(reopened(app, analytics_only)) == {
            **untouched,
            "analytics": (True, False),
        }
        for language in ("de", "fr"):
            assert boxes(reopened(app, None, **{"accept-language": language})) == untouched


@pytest.mark.parametrize(
    ("language", "note"),
    [
        ("de", "aus, solange Ihr Browser Global Privacy Control sendet"),
        ("fr", "désactivé tant que votre navigateur envoie Global Privacy Control"),
    ],
)
def test_the_reopened_banner_shows_the_choice_in_every_language(language: str, note: str) -> None:
    app = make_app()
    cookie = decide(app, "save", ("analytics",))
    markup = reopened(app, cookie, **{"accept-language": language, **GPC})
    assert boxes(markup)["analytics"] == (True, False)
    assert boxes(markup)["marketing"] == (False, True)
    assert markup.count(note) == 1
    assert f'lang="{language}"' in markup


def test_the_gpc_note_is_the_policys_to_word_and_is_escaped() -> None:
    policy = make_policy(texts={"en": {"gpc_refused": "<b>off</b> & fixed"}})
    app = make_app(policy=policy)
    markup = reopened(app, decide(app, "accept_all"), **GPC)
    assert " (&lt;b&gt;off&lt;/b&gt; &amp; fixed)" in markup
    assert "<b>" not in markup


def test_an_undecided_visitors_banner_is_the_cached_one() -> None:
    # The injected banner's path: no per-visitor work, byte for byte what it was.
    policy = make_policy()
    banner = Banner(policy, "/consent")
    undecided = ConsentCodec(policy, SECRET).undecided(False)
    for language in ("en", "de", "fr"):
        plain = banner.fragment(language, "/a?b=<c>")
        assert banner.fragment(language, "/a?b=<c>", undecided) == plain
        assert "/a?b=&lt;c&gt;" in plain
        assert boxes(plain)["analytics"] == (False, False)


def test_the_reopened_banner_varies_on_the_signals_it_shows() -> None:
    app = make_app()
    response = call(app, "GET", "/consent/banner", headers=GPC)
    vary = {part.strip().lower() for part in response.headers["vary"].split(",")}
    assert {"cookie", "sec-gpc", "dnt"} <= vary
    assert response.headers["cache-control"] == "private, no-store"
