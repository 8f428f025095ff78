"""The banner: accessible, CSP-safe, escaped, translated, and it hides after a decision."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from cookiewall import Category, Policy
from cookiewall.banner import Banner, parse_accept_language
from tests.test_cookiewall_support import call, decide, make_app, make_policy


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def banner_html(**headers: str) -> str:
    return call(make_app(), "GET", "/consent/banner", headers=headers or None).text


def test_labelled_region() -> None:
    elements = parse(banner_html()).elements
    tag, attrs = elements[0]
    assert tag == "section"
    assert attrs["role"] == "region"
    label_id = attrs["aria-labelledby"]
    assert any(a.get("id") == label_id and t == "h2" for t, a in elements)


def test_accept_and_reject_equally_prominent() -> None:
    # Not the hidden one that takes Enter on a checkbox (HTML's implicit submission) and does
    # nothing: it is no choice, and no one sees it.
    buttons = [a for t, a in parse(banner_html()).elements if t == "button" and "hidden" not in a]
    by_action = {a["value"]: a for a in buttons}
    assert set(by_action) == {"accept_all", "reject_all", "save"}
    accept, reject = by_action["accept_all"], by_action["reject_all"]
    assert accept["class"] == reject["class"]
    assert accept["type"] == reject["type"] == "submit"


def test_plain_forms_that_work_without_javascript() -> None:
    elements = parse(banner_html()).elements
    forms = [a for t, a in elements if t == "form"]
    assert len(forms) == 3
    assert all(f["method"] == "post" and f["action"] == "/consent" for f in forms)
    nexts = [a for t, a in elements if t == "input" and a.get("name") == "next"]
    assert len(nexts) == 3


def test_no_pre_ticked_boxes_required_shown_fixed() -> None:
    boxes = [
        a for t, a in parse(banner_html()).elements if t == "input" and a.get("type") == "checkbox"
    ]
    by_value = {a["value"]: a for a in boxes}
    assert set(by_value) == {"necessary", "preferences", "analytics", "marketing"}
    assert "checked" in by_value["necessary"]
    assert "disabled" in by_value["necessary"]
    for name in ("preferences", "analytics", "marketing"):
        assert "checked" not in by_value[name]
        assert "disabled" not in by_value[name]
    # Every checkbox is inside its label (no id to clash with the page's), so it is operable
    # and announced.
    page = banner_html()
    for box in re.finditer(r'<input type="checkbox"', page):
        before = page[: box.start()]
        assert before.rfind("<label>") > before.rfind("</label>")


def test_keyboard_operable_native_controls_only() -> None:
    elements = parse(banner_html()).elements
    assert not any("tabindex" in a and a["tabindex"] == "-1" for _, a in elements)
    interactive = {t for t, _ in elements} & {"button", "input", "a", "summary", "details"}
    assert interactive == {"button", "input", "a", "summary", "details"}
    assert not any(t == "div" and "onclick" in a for t, a in elements)


def test_csp_safe_no_inline_script_or_style() -> None:
    app = make_app(inject_banner=True)
    for html in (call(app, "GET", "/consent/banner").text, call(app, "GET", "/").text):
        parsed = parse(html)
        assert parsed.script_text.strip() == ""
        for tag, attrs in parsed.elements:
            assert "style" not in attrs
            assert not any(name.startswith("on") for name in attrs)
            assert tag != "style"
            if tag == "script":
                src = attrs["src"]
                assert src is not None
                assert src.startswith("/consent/static/")
        assert "javascript:" not in html


@pytest.mark.parametrize(
    ("header", "language", "reject"),
    [
        (None, "en", "Reject all"),
        ("de", "de", "Alle ablehnen"),
        ("de-AT,en;q=0.5", "de", "Alle ablehnen"),
        ("en;q=0.4, de;q=0.8", "de", "Alle ablehnen"),
        ("fr-CA, fr;q=0.9", "fr", "Tout refuser"),
        ("de;q=0, en", "en", "Reject all"),
        ("ja, de;q=0.1", "de", "Alle ablehnen"),
        ("ja", "en", "Reject all"),
        ("*", "en", "Reject all"),
        ("de;q=abc, fr;q=0.5", "fr", "Tout refuser"),
        ("de;q=nan", "en", "Reject all"),
        (";;;,,,", "en", "Reject all"),
    ],
)
def test_language_chosen_by_accept_language(header: str | None, language: str, reject: str) -> None:
    headers = {"accept-language": header} if header else {}
    response = call(make_app(), "GET", "/consent/banner", headers=headers)
    assert response.headers["content-language"] == language
    assert f'lang="{language}"' in response.text
    assert reject in response.text


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("da, en-gb;q=0.8, en;q=0.7", ["da", "en-gb", "en"]),
        ("en;q=0.7, da", ["da", "en"]),
        ("a;q=0.5, b;q=0.5", ["a", "b"]),
        ("x;q=0", []),
        ("x;q=2", ["x"]),
        ("", []),
    ],
)
def test_parse_accept_language(header: str, tags: list[str]) -> None:
    assert parse_accept_language(header) == tags


def test_policy_texts_override_defaults_per_language() -> None:
    policy = make_policy(
        texts={
            "de": {"title": "Kekse?", "labels": {"analytics": "Statistik"}},
            "de-ch": {"accept_all": "Alles akzeptieren"},
            "es": {"reject_all": "Rechazar todo"},
        }
    )
    app = make_app(policy=policy)
    german = call(app, "GET", "/consent/banner", headers={"accept-language": "de"}).text
    assert "Kekse?" in german
    assert "Statistik" in german
    assert "Alle akzeptieren" in german
    swiss = call(app, "GET", "/consent/banner", headers={"accept-language": "de-CH"}).text
    assert "Kekse?" in swiss
    assert "Alles akzeptieren" in swiss
    spanish = call(app, "GET", "/consent/banner", headers={"accept-language": "es"}).text
    assert "Rechazar todo" in spanish
    assert "Accept all" in spanish


def test_configuration_cannot_inject_html() -> None:
    evil = '<img src=x onerror=alert(1)>"'
    policy = make_policy(
        categories=[
            Category("necessary", required=True, description=evil),
            Category("analytics", description=evil),
        ],
        cookies=[],
        texts={"en": {"title": evil, "intro": evil, "labels": {"analytics": evil}}},
    )
    html = call(make_app(policy=policy), "GET", "/consent/banner").text
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;" in html
    assert not any(t == "img" for t, _ in parse(html).elements)


def test_next_is_escaped_in_the_page() -> None:
    app = make_app(inject_banner=True)
    html = call(app, "GET", '/?q="><script>').text
    assert "<script>" not in html.replace('<script src="', "")


def test_banner_hides_after_decision_no_js_flow() -> None:
    app = make_app(inject_banner=True)
    page = call(app, "GET", "/").text
    assert "cookiewall-title" in page
    # The no-JS flow: post the form, follow the 303 back to the page.
    response = call(app, "POST", "/consent", data={"action": "reject_all", "next": "/"})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    again = call(app, "GET", response.headers["location"], headers={"cookie": cookie})
    assert "cookiewall-title" not in again.text


def test_decided_visitor_can_still_fetch_banner_to_change_mind() -> None:
    app = make_app()
    value = decide(app, "accept_all")
    html = call(app, "GET", "/consent/banner", headers={"cookie": f"cookiewall={value}"}).text
    assert "Reject all" in html


def test_static_assets_exist_and_are_referenced_with_digest() -> None:
    banner = Banner(make_policy(), "/consent")
    assert re.fullmatch(r"/consent/static/banner\.css\?v=[0-9a-f]{12}", banner.css_url)
    assert b".cookiewall-button" in banner.css
    assert b"cookiewall:decided" in banner.js


def test_same_fragment_for_every_call() -> None:
    banner = Banner(make_policy(), "/consent")
    first: Any = banner.fragment("en", "/a")
    assert first == banner.fragment("en", "/a")
    assert 'value="/b"' in banner.fragment("en", "/b")


def _policy(texts: dict[str, Any]) -> Policy:
    return make_policy(texts=texts)


# --- the banner says which way its language is written -------------------------------------


def _banner_tag(policy: Policy, accept_language: str) -> str:
    response = call(
        make_app(policy=policy),
        "GET",
        "/consent/banner",
        headers={"accept-language": accept_language},
    )
    assert response.status_code == 200
    start = response.text.index("<section")
    return response.text[start : response.text.index(">", start) + 1]


DIRECTIONS = [
    ("ar", "rtl"),
    ("he", "rtl"),
    ("fa", "rtl"),
    ("ur", "rtl"),
    ("yi", "rtl"),
    ("ar-eg", "rtl"),
    ("az-arab", "rtl"),  # Azerbaijani in Arabic script
    ("pa-arab", "rtl"),
    ("ku-arab", "rtl"),
    ("ug-latn", "ltr"),  # Uyghur in Latin script
    ("az", "ltr"),
    ("en", "ltr"),
    ("de", "ltr"),
    ("it", "ltr"),
]


@pytest.mark.parametrize(("language", "direction"), DIRECTIONS)
def test_the_banner_says_which_way_its_language_is_written(language: str, direction: str) -> None:
    # An Arabic or Hebrew banner was laid out left to right (its punctuation on the wrong
    # side, its checkboxes on the wrong edge); an English banner on a right-to-left page
    # inherited the page's rtl. Its own `dir` settles both.
    policy = _policy({language: {"title": "T"}})
    tag = _banner_tag(policy, language)
    assert f'lang="{language}"' in tag
    assert f'dir="{direction}"' in tag


# A policy's own languages, found by the same lookup (no browser needed).
@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("de-CH", "de-ch"),
        ("de-CH-1996", "de-ch"),  # a variant falls back to its region, then its language
        ("de-AT", "de"),
        ("zh-Hant-TW", "zh-hant"),  # script subtag: the policy's zh-hant, not English
        ("zh-Hant", "zh-hant"),
        ("zh-CN", "en"),
        ("gsw, de-ch;q=0.8", "de-ch"),
    ],
)
def test_languages_a_policy_adds_are_found_by_lookup(accept_language: str, expected: str) -> None:
    policy = Policy(
        version="1",
        categories=[Category("necessary", required=True)],
        texts={"de-CH": {"title": "Cookies auf dieser Webseite"}, "zh-Hant": {"title": "Cookie"}},
    )
    assert Banner(policy, "/consent").language_for(accept_language) == expected
