"""The banner's markup as a browser reads it: what each form sends (the policy version the
banner was shown under), where each decision button posts whatever form owns it, no `id`
that a page's own element may have, English fallback texts in a partly translated banner
marked as English, and the mark that tells banner.js the visitor had not decided.

Read with the standard library's HTML parser, as the browser sees elements and attributes.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from cookiewall import Category, Consent, Policy
from cookiewall.banner import Banner

CATEGORIES = [
    Category("necessary", required=True),
    Category("analytics"),
    Category("marketing", gpc_opt_out=True),
]
ACTION = "/consent"


class _Elements(HTMLParser):
    """Every start tag as (tag, attributes, the text right after it)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[int, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.elements and data.strip():
            self.texts.setdefault(len(self.elements) - 1, data.strip())


def _parse(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


def _marks(markup: str) -> dict[str, tuple[str | None, str | None]]:
    """The text of each element (after its start tag) → its own (lang, dir), if any."""
    parsed = _parse(markup)
    return {
        parsed.texts[index]: (attrs.get("lang"), attrs.get("dir"))
        for index, (_, attrs) in enumerate(parsed.elements)
        if index in parsed.texts
    }


def _decision_buttons(markup: str) -> list[dict[str, str | None]]:
    return [
        a for tag, a in _parse(markup).elements if tag == "button" and a.get("name") == "action"
    ]


def test_every_form_carries_the_policy_version_the_banner_was_shown_under() -> None:
    version = 'v2 "spring" <&>'
    banner = Banner(Policy(version, CATEGORIES), ACTION)
    elements = _parse(banner.fragment("en", "/shop")).elements
    forms = [a for tag, a in elements if tag == "form"]
    versions = [a["value"] for tag, a in elements if a.get("name") == "policy_version"]
    assert len(forms) == 3
    assert versions == [version] * 3  # escaped in the markup, the exact version once parsed


def test_every_decision_button_posts_to_the_gate_whichever_form_owns_it() -> None:
    # A page that leaves its own <form> open before the banner owns the banner's first button
    # (HTML ignores a <form> start tag inside a form): the button's own attributes decide
    # where it posts, how, and that the page's required fields and target do not stop it.
    banner = Banner(Policy("v1", CATEGORIES), "/shop/consent")
    buttons = _decision_buttons(banner.fragment("en", "/shop"))
    assert [b["value"] for b in buttons] == ["accept_all", "reject_all", "save"]
    for button in buttons:
        assert button["formaction"] == "/shop/consent"
        assert button["formmethod"] == "post"
        assert button["formenctype"] == "application/x-www-form-urlencoded"
        assert button["formtarget"] == "_self"
        assert "formnovalidate" in button


def test_the_banner_has_no_id_a_page_element_may_have() -> None:
    banner = Banner(Policy("v1", CATEGORIES), ACTION)
    markup = banner.snippet("en", "/")
    sections = [a for tag, a in _parse(markup).elements if tag == "section"]
    assert len(sections) == 1
    assert "data-cookiewall" in sections[0]
    assert "id" not in sections[0]
    assert 'id="cookiewall"' not in markup


PARTLY_ARABIC = {"ar": {"title": "ملفات تعريف الارتباط", "always_on": "دائما"}}


def test_a_partly_translated_banner_marks_its_english_texts_as_english() -> None:
    banner = Banner(Policy("v1", CATEGORIES, texts=PARTLY_ARABIC), ACTION)
    markup = banner.fragment("ar", "/")
    section = next(a for tag, a in _parse(markup).elements if tag == "section")
    assert (section["lang"], section["dir"]) == ("ar", "rtl")
    marks = _marks(markup)
    # The policy's own words: the section's language, no mark of their own.
    assert marks["ملفات تعريف الارتباط"] == (None, None)
    assert "<strong>Necessary</strong> (دائما)</span>" in markup  # its note, unmarked
    english = ["Accept all", "Reject all", "Choose categories", "Save choices"]
    english += ["Cookie categories", "Cookie details"]
    for text in english:
        assert marks[text] == ("en", "ltr"), text
    assert marks[next(t for t in marks if t.startswith("We use cookies"))] == ("en", "ltr")
    # What banner.js's live region will say after each button, with its language.
    for button in _decision_buttons(markup):
        assert button["data-cookiewall-saved"].startswith("Your choice")  # type: ignore[union-attr]
        assert button["data-cookiewall-saved-lang"] == "en"
        assert button["data-cookiewall-saved-dir"] == "ltr"


def test_an_english_note_on_a_box_is_marked_as_english() -> None:
    banner = Banner(Policy("v1", CATEGORIES, texts=PARTLY_ARABIC), ACTION)
    markup = banner.fragment("ar", "/", Consent(False, frozenset(), frozenset(), gpc=True))
    assert (
        '<span lang="en" dir="ltr"> (off while your browser sends Global Privacy Control)</span>'
        in markup
    )


@pytest.mark.parametrize("language", ["en", "de", "fr", "de-ch"])
def test_a_banner_wholly_in_its_language_marks_nothing(language: str) -> None:
    # `de-ch` with its own title only: the rest is German (its language's), not marked.
    texts = {"de-ch": {"title": "Cookies auf dieser Webseite"}}
    banner = Banner(Policy("v1", CATEGORIES, texts=texts), ACTION)
    markup = banner.fragment(language, "/", Consent(False, frozenset(), frozenset(), gpc=True))
    elements = _parse(markup).elements
    assert [a["lang"] for _, a in elements if "lang" in a] == [language]
    assert "data-cookiewall-saved-lang" not in markup


def _section(markup: str) -> dict[str, str | None]:
    return next(a for tag, a in _parse(markup).elements if tag == "section")


def test_only_a_banner_shown_to_a_visitor_yet_to_decide_says_so() -> None:
    banner = Banner(Policy("v1", CATEGORIES), ACTION)
    everything = frozenset({"necessary", "analytics", "marketing"})
    decided = Consent(True, everything, everything, frozenset({"necessary"}), "v1")
    under_gpc = Consent(False, frozenset({"necessary"}), everything, gpc=True)
    assert "data-cookiewall-undecided" in _section(banner.fragment("en", "/"))
    assert "data-cookiewall-undecided" in _section(banner.snippet("en", "/", under_gpc))
    # Reopened to change a choice: banner.js must not take it away for being decided.
    reopened = _section(banner.fragment("en", "/", decided))
    assert "data-cookiewall" in reopened
    assert "data-cookiewall-undecided" not in reopened
