"""How a referrer's internationalised domain is shown: Unicode, with its Punycode beside it
where the Unicode could pass for another name.

The warehouse keeps referrer hosts IDNA-decoded (`bücher.de`, `例え.jp`), which is what a
reader wants for nearly every one. But `xn--80ak6aa92e.com` decodes to `аррӏе.com`, five
Cyrillic letters that read as apple.com: a report showing only that would have an analyst
credit Apple with a phishing site's traffic. Browsers decide per label whether to show the
Unicode or the Punycode (Chromium's IDN policy, `IDNSpoofChecker::SafeToDisplayAsUnicode`;
Firefox's nsIDNService took over its Cyrillic check). We apply the parts of it that stdlib
`unicodedata` can tell, and where a label fails, show the name as
`аррӏе.com (xn--80ak6aa92e.com)`: both forms, since the Unicode still says what the site
looks like to its visitors, and the Punycode is what no one can misread. A label fails when

* a character is in none of UAX #31's recommended scripts (Cherokee, Yi, symbols), or is a
  Latin letter that is neither an ASCII letter with accents nor one of a few letters of
  living alphabets (`ɑ` reads as `a`); `ı`, `þ`, `ð` and `ə` pass only under the
  top-level domains of the languages that write them (`.tr`, `.is`, `.az`), as in Chromium;
* it mixes scripts beyond UTS #39's "Highly Restrictive" level, Chromium's: one script, or
  Latin with Han and Japanese kana, with Han and Bopomofo, or with Han and Hangul
  (`pаypal` with a Cyrillic `а` fails, `hello中国` does not), and then only ASCII Latin;
* it mixes digits of two numbering systems, or has a dot above `i`, `j` or `l`;
* every letter of a Cyrillic label looks like a Latin one (`аррӏе`: Chromium's list), unless
  the top-level domain is Cyrillic or one where Cyrillic names are common (`сахар.рф`,
  `.ru`); the same for Greek and Armenian letters under `.gr`, `.cy` and `.am`.

Chromium also compares every name's skeleton with a list of top domains (`góogle.com`): we
have no such list, and accented letters show as what they are.

Only shown text changes: the stored key, rollups, CSV and JSON keep the Unicode host.
"""

from __future__ import annotations

import re
import unicodedata

# UAX #31, Table 5 (Recommended Scripts), by the first word of the characters' Unicode names.
RECOMMENDED_SCRIPTS = frozenset(
    {
        "ARABIC", "ARMENIAN", "BENGALI", "BOPOMOFO", "CYRILLIC", "DEVANAGARI", "ETHIOPIC",
        "GEORGIAN", "GREEK", "GUJARATI", "GURMUKHI", "HAN", "HANGUL", "HEBREW", "HIRAGANA",
        "KANNADA", "KATAKANA", "KHMER", "LAO", "LATIN", "MALAYALAM", "MYANMAR", "ORIYA",
        "SINHALA", "TAMIL", "TELUGU", "THAANA", "THAI", "TIBETAN",
    }
)  # fmt: skip
# Names whose first word is not their script's.
_NAME_SCRIPTS = {
    "CJK": "HAN",  # CJK UNIFIED IDEOGRAPH-4F8B
    "IDEOGRAPHIC": "HAN",  # 々 IDEOGRAPHIC ITERATION MARK, 〇
    "KATAKANA-HIRAGANA": "KATAKANA",  # ー PROLONGED SOUND MARK, used in both kana
    "ARABIC-INDIC": "ARABIC",  # ١ ARABIC-INDIC DIGIT ONE, and EXTENDED ARABIC-INDIC (Persian)
}
# UTS #39 "Highly Restrictive": the script sets a label may mix.
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Latin letters that are no ASCII letter with accents, yet letters of living alphabets that
# look like no single ASCII letter (German, Danish, French, Croatian, Maltese, Polish, Sami).
_LATIN_LETTERS = frozenset("ßæøœđħłŋ")
# Such letters that do look like one (`ı` like `i`, `þ` like `b` or `p`, `ð` like `o`, `ə`
# like `e`), normal only under their languages' top-level domains.
_LATIN_LETTERS_OF = {"ı": ("tr", "az"), "þ": ("is",), "ð": ("is",), "ə": ("az",)}
_DOT_ABOVE = re.compile("[ijlı]\u0307")  # `i̇` is `i` twice dotted, `l̇` is `i`
# Letters that look like Latin ones, per script, and the top-level domains where a label of
# nothing else is normal (besides those written in the script). Cyrillic: Chromium's
# `cyrillic_letters_latin_alike_` (lower case) and `IsCyrillicTopLevelDomain`; Greek and
# Armenian (which Chromium leaves to its list of top domains): our own short lists.
_LATIN_LOOKALIKES = {
    "CYRILLIC": (
        frozenset("аысԁеԍһіюјӏорԗԛѕԝхуъьҽпгѵѡ"),
        frozenset({"bg", "by", "kz", "ru", "su", "ua", "uz"}),
    ),
    "GREEK": (frozenset("αγικνορυχω"), frozenset({"gr", "cy"})),
    "ARMENIAN": (frozenset("ահոսցօզ"), frozenset({"am"})),
}
_MARKS = frozenset({"Mn", "Mc", "Me"})


def script(char: str) -> str | None:
    """`char`'s script as the first word of its Unicode name (None for digits, `-`, `_` and
    combining accents, which go with any script). Stdlib has no Script property; for the
    letters of host names the name says it."""
    if char.isascii():
        return "LATIN" if char.isalpha() else None
    name = unicodedata.name(char, "")
    if name.startswith("COMBINING "):
        return None
    word = name.removeprefix("EXTENDED ").split(" ", 1)[0]
    return _NAME_SCRIPTS.get(word, word)


def _letters(label: str) -> list[str]:
    """The letters of `label` without their accents (`й` is `и`, `ά` is `α`)."""
    decomposed = unicodedata.normalize("NFD", label)
    return [ch for ch in decomposed if ch.isalpha() and unicodedata.category(ch) not in _MARKS]


def _odd_latin(char: str, tld: str) -> bool:
    """A non-ASCII Latin letter that may pass for an ASCII one under `tld`."""
    base = unicodedata.normalize("NFD", char)[0]
    if base.isascii() and base.isalpha():
        return False  # an accented ASCII letter shows its accent
    return char not in _LATIN_LETTERS and tld not in _LATIN_LETTERS_OF.get(char, ())


def _in_script(label: str, name: str) -> bool:
    letters = _letters(label)
    return bool(letters) and all(script(ch) == name for ch in letters)


def label_may_deceive(label: str, tld: str) -> bool:
    """Whether `label`, under the top-level label `tld`, could pass for another name."""
    if label.isascii():
        return False
    scripts = set()
    digit_systems = set()
    non_ascii_latin = False
    for char in label:
        found = script(char)
        if char.isdigit():
            digit_systems.add(found or "ASCII")
        if found is None:
            continue
        if found not in RECOMMENDED_SCRIPTS:
            return True
        if found == "LATIN" and not char.isascii():
            if _odd_latin(char, tld):
                return True
            non_ascii_latin = True
        scripts.add(found)
    if len(digit_systems) > 1 or _DOT_ABOVE.search(label):
        return True
    if len(scripts) > 1:
        mixes = any(scripts <= mix for mix in _ALLOWED_MIXES)
        return not mixes or non_ascii_latin
    if len(scripts) == 1:
        (only,) = scripts
        if only in _LATIN_LOOKALIKES:
            lookalikes, own_tlds = _LATIN_LOOKALIKES[only]
            if all(ch in lookalikes for ch in _letters(label)):
                return not (tld in own_tlds or _in_script(tld, only))
    return False


def ascii_form(host: str) -> str:
    """`host` with each non-ASCII label in Punycode (`xn--…`), as browsers send it."""
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in host.split(".")
    )


def may_deceive(host: str) -> bool:
    """Whether a label of `host` could pass for another name (see the module's docstring)."""
    if host.isascii():
        return False
    labels = host.split(".")
    return any(label_may_deceive(label, labels[-1]) for label in labels)


def shown_host(host: str) -> str:
    """`host` as reports and the dashboard show it: itself, or `аррӏе.com (xn--80ak6aa92e.com)`
    when it may deceive."""
    return f"{host} ({ascii_form(host)})" if may_deceive(host) else host
