"""A policy text that names a control, a heading, a column or a note must say something.

`texts={"it": {"title": "", "accept_all": "", "reject_all": "   ", "labels": {"analytics": ""}}}`
was accepted: an Italian visitor got a banner region with no name, two buttons without words
(a blank "Reject all" makes refusing harder than accepting) and a box with no label. Every
such text, empty or only spaces, line breaks or invisible marks, is now a ValueError naming
it, in Python and in a TOML file. A category's description may still be empty: it is
optional, as a Category's own is; so may the intro, which names nothing (`intro = ""`, a banner
of a title and its buttons, loaded in 0.4).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cookiewall import Category, Policy
from cookiewall.banner import Banner
from cookiewall.policy import COOKIE_LIST_KEYS, TEXT_KEYS

CATEGORIES = [Category("necessary", required=True), Category("analytics", "Counts visits.")]
# Nothing a visitor can read: spaces (ASCII, no-break, ideographic), a tab, line breaks,
# a zero-width space, a word joiner, right-to-left and left-to-right marks.
BLANKS = ["", "   ", "\u00a0", "\u3000", "\t\n", "\u2028", "\u200b", "\u2060\ufeff", "\u200f\u200e"]
# Nor these, which are letters, symbols or marks to Unicode, and passed: Hangul fillers, the
# braille blank, zero-width (non-)joiners, the Mongolian vowel separator, a variation
# selector, a tag space.
INVISIBLE_LETTERS = ["\u3164", "\u115f\u1160", "\uffa0", "\u2800", "\u200c\u200d", "\u180e"]
INVISIBLE_LETTERS += ["\ufe0f", "\U000e0020", "\u3164 \u2800"]
BLANKS += INVISIBLE_LETTERS


def _policy(texts: dict[str, Any]) -> Policy:
    return Policy("1", CATEGORIES, texts=texts)


def test_the_reported_blank_italian_banner_is_refused_naming_the_first_blank_text() -> None:
    texts = {
        "it": {"title": "", "accept_all": "", "reject_all": "   ", "labels": {"analytics": ""}}
    }
    with pytest.raises(ValueError, match=r"^texts\.it\.title ") as raised:
        _policy(texts)
    assert str(raised.value) == (
        "texts.it.title must not be empty: write the words, or leave the key out to use the"
        " default wording"
    )


# Not the intro: it names nothing.
@pytest.mark.parametrize("key", sorted(TEXT_KEYS - {"intro"}))
@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_every_banner_text_empty_or_blank_is_refused(key: str, blank: str) -> None:
    problem = "empty" if not blank else "blank"
    with pytest.raises(ValueError, match=rf"^texts\.it\.{key} must not be {problem}\b"):
        _policy({"it": {key: blank}})


@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_a_blank_category_label_is_refused(blank: str) -> None:
    with pytest.raises(ValueError, match=r"^texts\.it\.labels\.analytics must not be"):
        _policy({"it": {"labels": {"necessary": "Necessari", "analytics": blank}}})


@pytest.mark.parametrize("key", sorted(COOKIE_LIST_KEYS))
@pytest.mark.parametrize("blank", ["", "  ", "\u3164"], ids=repr)
def test_every_cookie_list_word_empty_or_blank_is_refused(key: str, blank: str) -> None:
    with pytest.raises(ValueError, match=rf"^texts\.it\.cookie_list\.{key} must not be"):
        _policy({"it": {"cookie_list": {key: blank}}})


@pytest.mark.parametrize(
    ("blank", "shown"), [("\u200b", "'\\u200b'"), ("\u3164 ", "'\\u3164 '")], ids=repr
)
def test_a_blank_text_is_shown_in_the_message_so_that_invisible_ones_can_be_found(
    blank: str, shown: str
) -> None:
    # A Hangul filler is a printable letter: repr() showed it as itself, that is as nothing.
    with pytest.raises(ValueError, match=r"^texts\.de\.reject_all ") as raised:
        _policy({"de": {"reject_all": blank}})
    assert str(raised.value).startswith(
        f"texts.de.reject_all must not be blank ({shown} shows nothing): "
    )


@pytest.mark.parametrize("description", ["", "   "], ids=repr)
def test_an_empty_description_is_still_allowed(description: str) -> None:
    """A description is optional (`Category("x")` has none): an empty one in a language
    shows no description there rather than the one written in another language."""
    policy = _policy({"it": {"descriptions": {"analytics": description}}})
    assert policy.texts["it"]["descriptions"] == {"analytics": description}


@pytest.mark.parametrize("where", ["texts", "category"])
@pytest.mark.parametrize("description", BLANKS, ids=repr)
def test_a_blank_description_describes_no_box(where: str, description: str) -> None:
    """A box described by a Hangul filler or a braille blank alone was read out as "Hangul
    filler": a description with nothing to read is none, its span left empty."""
    if where == "texts":
        policy = _policy({"it": {"descriptions": {"analytics": description}}})
    else:
        policy = Policy("1", [Category("analytics", description)], texts={"it": {}})
    html = Banner(policy, "/consent").fragment("it", "/")
    box = re.search(r'<input type="checkbox" name="categories" value="analytics"[^>]*>', html)
    assert box is not None
    assert "aria-describedby" not in box.group()
    assert re.search(r'<span class="cookiewall-description" id="[^"]*"></span>', html)


@pytest.mark.parametrize("intro", ["", "  ", "\u3164"], ids=repr)
def test_an_empty_intro_still_loads_and_the_banner_keeps_its_title_and_buttons(
    tmp_path: Path, intro: str
) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(
        f'version = "1"\n[[categories]]\nname = "analytics"\n[texts.en]\nintro = "{intro}"\n',
        encoding="utf-8",
    )
    policy = Policy.from_toml(path)
    assert policy.texts["en"]["intro"] == intro
    html = Banner(policy, "/consent").fragment("en", "/")
    assert "Cookies on this site" in html
    assert ">Accept all<" in html
    assert ">Reject all<" in html
    # No empty paragraph, which a screen reader stops on and reads as "blank".
    assert "cookiewall-intro" not in html
    assert '</h2>\n<div class="cookiewall-actions">' in html


@pytest.mark.parametrize(
    ("texts", "paragraph"),
    [
        ({}, '<p class="cookiewall-intro">We use cookies'),
        ({"it": {"title": "Cookie"}}, '<p class="cookiewall-intro" lang="en" dir="ltr">We use'),
        ({"it": {"intro": "Usiamo i cookie."}}, '<p class="cookiewall-intro">Usiamo i cookie.</p>'),
    ],
    ids=["en", "it-intro-in-english", "it"],
)
def test_an_intro_with_words_is_still_its_paragraph(texts: dict[str, Any], paragraph: str) -> None:
    html = Banner(_policy(texts), "/consent").fragment("it" if texts else "en", "/")
    assert f"</h2>\n{paragraph}" in html


@pytest.mark.parametrize("text", ["OK", " Accetta tutto ", "\u2713", "拒绝", "\u200fرفض الكل"])
def test_texts_with_something_to_read_are_kept_as_written(text: str) -> None:
    policy = _policy({"it": {"reject_all": text, "labels": {"analytics": text}}})
    assert policy.texts["it"] == {"reject_all": text, "labels": {"analytics": text}}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[texts.it]\nreject_all = "   "\n', "texts.it.reject_all must not be blank"),
        ('[texts.it]\ntitle = """\n"""\n', "texts.it.title must not be empty"),
        ('[texts.it]\naccept_all = "\\t\\n"\n', "texts.it.accept_all must not be blank"),
        ('[texts.it.labels]\nanalytics = ""\n', "texts.it.labels.analytics must not be empty"),
        ("[texts.it.cookie_list]\ncaption = ''\n", "texts.it.cookie_list.caption must not be"),
    ],
    ids=["spaces", "multiline-newline-only", "escapes", "label", "caption"],
)
def test_a_toml_policy_gives_the_same_one_line_error_naming_the_file(
    tmp_path: Path, table: str, message: str
) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text('version = "1"\n[[categories]]\nname = "analytics"\n' + table)
    with pytest.raises(ValueError, match="must not be") as raised:
        Policy.from_toml(path)
    assert str(raised.value).startswith(f"{path}: {message}")
    assert "\n" not in str(raised.value)
