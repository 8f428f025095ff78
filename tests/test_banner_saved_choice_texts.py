"""The words a screen reader says once banner.js has saved a choice: built in for every
shipped language, worded by a policy like any other text, and carried, escaped, by the
button that makes the choice (banner.js reads them there; the markup stays free of script)."""

from __future__ import annotations

import re

import pytest

from cookiewall import Category, Policy
from cookiewall.banner import DEFAULT_LANGUAGE, DEFAULT_TEXTS, Banner

SAVED = {
    "accept_all": "saved_accept_all",
    "reject_all": "saved_reject_all",
    "save": "saved_choices",
}
POLICY_CATEGORIES = [Category("necessary", required=True), Category("analytics")]


def _saved_texts(fragment: str) -> dict[str, str]:
    buttons = re.findall(r'value="(\w+)" data-cookiewall-saved="([^"]*)"', fragment)
    return dict(buttons)


@pytest.mark.parametrize("language", sorted(DEFAULT_TEXTS))
def test_every_shipped_language_says_each_choice_in_its_own_words(language: str) -> None:
    texts = DEFAULT_TEXTS[language]
    assert set(SAVED.values()) <= set(texts)
    said = [texts[key] for key in SAVED.values()]
    assert len(set(said)) == len(said)  # three choices, three sentences
    if language != DEFAULT_LANGUAGE:
        english = DEFAULT_TEXTS[DEFAULT_LANGUAGE]
        assert not {texts[key] for key in SAVED.values()} & {english[k] for k in SAVED.values()}


@pytest.mark.parametrize("language", sorted(DEFAULT_TEXTS))
def test_each_button_carries_what_is_said_after_it(language: str) -> None:
    banner = Banner(Policy("v1", POLICY_CATEGORIES), "/consent")
    said = _saved_texts(banner.fragment(language, "/"))
    assert said == {action: DEFAULT_TEXTS[language][key] for action, key in SAVED.items()}


@pytest.mark.parametrize(
    ("texts", "language", "action", "expected"),
    [
        ({"en": {"saved_accept_all": "Thanks!"}}, "en", "accept_all", "Thanks!"),
        ({"de": {"saved_choices": "Gespeichert."}}, "de", "save", "Gespeichert."),
        ({"de": {"saved_choices": "Gespeichert."}}, "de-ch", "save", "Gespeichert."),
        ({"it": {"title": "Cookie"}}, "it", "reject_all", DEFAULT_TEXTS["en"]["saved_reject_all"]),
        (
            {"en": {"saved_reject_all": '"><script>x</script>'}},
            "en",
            "reject_all",
            "&quot;&gt;&lt;script&gt;x&lt;/script&gt;",
        ),
    ],
)
def test_a_policy_words_what_is_said(
    texts: dict[str, dict[str, str]], language: str, action: str, expected: str
) -> None:
    banner = Banner(Policy("v1", POLICY_CATEGORIES, texts=texts), "/consent")
    chosen = banner.language_for(language)
    assert _saved_texts(banner.fragment(chosen, "/"))[action] == expected


def test_a_saved_text_that_is_not_a_string_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"texts\.en\.saved_choices must be a string"):
        Policy("v1", POLICY_CATEGORIES, texts={"en": {"saved_choices": 3}})
