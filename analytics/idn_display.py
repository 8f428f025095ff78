"""How a referrer's internationalised domain is shown: Unicode, with its Punycode beside it
where the Unicode could pass for another name.

The warehouse keeps referrer hosts IDNA-decoded (`bücher.de`, `例え.jp`), which is what a
reader wants for nearly every one. But `xn--80ak6aa92e.com` decodes to `аррӏе.com`, five
Cyrillic letters that read as apple.com: a report showing only that would have an analyst
credit Apple with a phishing site's traffic. Browsers decide per label whether to show the
Unicode or the Punycode. We port the checks of Chromium's `IDNSpoofChecker::
SafeToDisplayAsUnicode` (components/url_formatter/spoof_checks/idn_spoof_checker.cc) that
stdlib `unicodedata` can tell, and where a label fails, show the name as
`аррӏе.com (xn--80ak6aa92e.com)`: both forms, since the Unicode still says what the site
looks like to its visitors, and the Punycode is what no one can misread. A label fails when

* it holds a character no browser shows: a default-ignorable one (U+034F COMBINING GRAPHEME
  JOINER, the Hangul fillers: drawn as nothing, so `paypal\\u034f.com` looked exactly like
  paypal.com; ZWNJ and ZWJ, which Chromium shows in Punycode as "deviation characters",
  though real names hold them: Persian `می‌خواهم`, Sinhala `ශ්‍රී`), a conjoining or
  compatibility Hangul jamo (Chromium sends `gㅇㅇgle.com` as `xn--ggle-bkra.com`), a
  combining accent Chromium does not allow (of U+0300–U+0339, those UTS #39 allows, less
  U+0338, which draws a slash) or one not on a Latin, Greek or Cyrillic letter, or a
  character of the rarely used Latin, Greek and Cyrillic blocks Chromium leaves out. The
  recorder refuses the default-ignorable ones but ZWNJ and ZWJ, and a label that starts
  with a mark (browsers map the first away and refuse the second): only warehouses
  recorded before that hold such names;
* a character is in none of UAX #31's recommended scripts (Cherokee, Yi, symbols), or is a
  Latin letter that is neither an ASCII letter with accents nor one of a few letters of
  living alphabets (`ɑ` reads as `a`); `þ` and `ð` pass only under `.is` and `.fo`, `ə`
  under `.az` (Chromium's rules);
* it mixes scripts beyond UTS #39's "Highly Restrictive" level, Chromium's: one script, or
  Latin with Han and Japanese kana, with Han and Bopomofo, or with Han and Hangul
  (`pаypal` with a Cyrillic `а` fails, `hello中国` does not), and then only ASCII Latin;
* it mixes digits of two numbering systems, has a dot above `i`, `j` or `l`, or is made only
  of digits and characters that look like digits (`1зз7`: Chromium's `digit_lookalikes_`);
* it matches Chromium's "dangerous patterns" where Latin meets Chinese or Japanese: `〇`,
  `丨`, `ㄒ`, `工` and the other ideographs and Bopomofo that look like Latin letters next to
  a character of neither (`g〇〇gle`, `app丨e`), `ノ`, `ソ`, `丿` that look like slashes
  between two such characters, `ー` (a hyphen to the eye) after no kana;
* every letter of a label in one script looks like a Latin one (`аррӏе`): Chromium's
  `kWholeScriptConfusables`, its letters and its top-level domains for each script
  (Cyrillic, Greek, Armenian, Georgian, Hebrew, Ethiopic, Myanmar, Thai as Chromium has it
  on Linux, and nine Indic scripts), and its few common words that are exempt (`курс`,
  `парк`). Such a label passes under a top-level domain written in the script or listed for
  it (`сахар.рф`, `сахар.ru`), but only a real one: Referer headers are written by clients,
  and a forged `аррӏе.со` (Cyrillic `с`, `о`: no such domain exists, the recorder keeps it
  anyway) would otherwise read as apple.co. As Chromium, we compare the letters as they
  are: `ѓ` is no `г` (Macedonian `ѓорѓе.mk` reads as itself), and Cyrillic names under
  `.rs`, `.mk`, `.kg`, `.mn` or `.tj`, which Chromium does not list, are marked as in Chromium.

Chromium also compares every name's skeleton with a list of top domains (`góogle.com`,
`gıthub.com`, `gロロgle.com`): we have no such list, and accented letters show as what they
are. For `ı` alone, which reads as `i` (Turkish `ışık.com` is shown plain, as Chromium shows
it), we ask the referrer table instead: `gıthub.com` reads as github.com, a site it names.

Each answer is cached: a report shows a name, and its table clips it, asking again.

Only shown text changes: the stored key, rollups, CSV and JSON keep the Unicode host.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from analytics.referrers import DEFAULT_IGNORABLE, is_icann_suffix, parse_referrer

# Hangul jamo, shown by no browser as such: conjoining ones (Hangul_Syllable_Type L, V, T; a
# syllable is written precomposed, and IDNA 2008 disallows them, but UTS #46, which browsers
# follow, does not: Chromium sends `gㅇㅇgle.com` as `xn--ggle-bkra.com`, g, two U+110B, gle)
# and compatibility ones (`ㅇ`, the `o` of `gㅇㅇgle`, which NFKC makes a conjoining one).
HANGUL_JAMO = re.compile("[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u3131-\u318e]")
# Chromium's `deviation_characters_` that are drawn as nothing: ZWNJ and ZWJ.
_ZERO_WIDTH_JOINERS = re.compile("[\u200c\u200d]")
# How many names a process keeps the answers for (see `may_deceive`).
CACHE_SIZE = 8192

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
# Script sets that are one writing system (Japanese, Chinese, Korean): a label of one of them
# is "single script" to ICU. UTS #39 "Highly Restrictive" lets each mix with Latin.
_WRITING_SYSTEMS = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "BOPOMOFO"}),
    frozenset({"HAN", "HANGUL"}),
)
_ALLOWED_MIXES = tuple(system | {"LATIN"} for system in _WRITING_SYSTEMS)
_CJK = frozenset({"HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO"})
_JAPANESE = frozenset({"HAN", "HIRAGANA", "KATAKANA"})
_LGC = frozenset({"LATIN", "GREEK", "CYRILLIC"})
# Latin letters that are no ASCII letter with accents, yet letters of living alphabets
# (German, Danish, French, Croatian, Maltese, Polish, Sami, Turkish): `ı` reads as `i`, but
# Chromium shows it anywhere (see `_reads_as_known_site`).
_LATIN_LETTERS = frozenset("ßæøœđħłŋı")
# Such letters that look like an ASCII one (`þ` like `b` or `p`, `ð` like `o`, `ə` like
# `e`), normal only under their languages' top-level domains (Chromium's rules).
_LATIN_LETTERS_OF = {"þ": ("is", "fo"), "ð": ("is", "fo"), "ə": ("az",)}
_DOTLESS_I = "ı"
_DOT_ABOVE = re.compile("[ijlı]\u0307")  # `i̇` is `i` twice dotted, `l̇` is `i`
# Blocks Chromium removes from the allowed set as "extremely rarely used": Pinyin tone
# letters, Cyrillic Extended-B and -C, Latin Extended Additional and -D, Greek Extended.
_RARE_LGC = re.compile(
    "[\u01cd-\u01dc\u1c80-\u1c8f\u1e00-\u1e9b\u1f00-\u1fff\ua640-\ua69f\ua720-\ua7ff\u0138]"
)
# The combining accents Chromium allows, and only on a Latin, Greek or Cyrillic letter: those
# of U+0300–U+0339 in its allowed set (UTS #39 Identifier_Status=Allowed, less U+0338, which
# draws a slash). U+0332 COMBINING LOW LINE is not one: `pay̲pal` reads as pay_pal.
_ACCENTS = frozenset(
    "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u0309\u030a\u030b\u030c\u030f\u0310"
    "\u0311\u0313\u0314\u031b\u0323\u0324\u0325\u0326\u0327\u0328\u032d\u032e\u0330\u0331"
    "\u0335\u0339"
)

# Chromium's `kWholeScriptConfusables`: per script, the letters that look like Latin ones,
# and the top-level domains under which a label of nothing else is normal (besides those
# written in the script). Chromium's Cyrillic list also names "pyc", no top-level domain.
_LATIN_LOOKALIKES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ARMENIAN": (frozenset("ագզէլհյոսւօՙ"), frozenset({"am"})),
    "CYRILLIC": (
        frozenset("аысԁеԍһіюкјӏорԗԛѕԝхуъьҽпгѵѡ"),
        frozenset({"bg", "by", "kz", "ru", "su", "ua", "uz"}),
    ),
    "ETHIOPIC": (frozenset("ሀሠሰስበነተከዐዕዘጠፐꬅ"), frozenset({"er", "et"})),
    "GEORGIAN": (frozenset("იოყძხჽჿ"), frozenset({"ge"})),
    "GREEK": (frozenset("αικνρυωηοτ"), frozenset({"gr"})),
    "HEBREW": (frozenset("דוחיןסװײ׳ﬦ"), frozenset({"il"})),
    "BENGALI": (frozenset("০৭"), frozenset()),
    "DEVANAGARI": (frozenset("ऽ०ॱ"), frozenset()),
    "GUJARATI": (frozenset("ડટ૦૧"), frozenset()),
    "GURMUKHI": (frozenset("੦੧"), frozenset()),
    "KANNADA": (frozenset("ಽ೦೧"), frozenset()),
    "MALAYALAM": (frozenset("ടഠധനറ൦"), frozenset()),
    "ORIYA": (frozenset("ଠ୦୮"), frozenset()),
    "TAMIL": (frozenset("டப௦"), frozenset()),
    "TELUGU": (frozenset("౦౧"), frozenset()),
    "MYANMAR": (frozenset("ခဂငထပဝ၀၂ၔၜ\u1090\u1091\u1095\u1096\u1097"), frozenset({"mm"})),
    "THAI": (frozenset("ทนบพรหเแ๐ดลปฟม"), frozenset({"th"})),
}
# Chromium's `kAllowedWholeScriptConfusableWords`: common words that read as no Latin one.
_ALLOWED_WORDS = frozenset(
    {"секс", "как", "коса", "курс", "парк", "такий", "укроп", "сахарок", "покраска"}
)
# Chromium's `digit_lookalikes_`: a label of these and ASCII digits only reads as a number.
_DIGIT_LOOKALIKES = frozenset("θ२২੨૨೩೭շзҙӡउওਤ੩૩౩ဒვპੜკ੫丩ㄐճ৪੪୫૭୨౨")

# Chromium's dangerous patterns (its `dangerous_pattern` regular expression), by character.
# Ideographs and Bopomofo that look like Latin letters or punctuation, next to a character
# of none of Han, kana, Bopomofo: 一 ㄧ 丨 乛 七 丅 十 〇 ㄒ ㄚ ㄟ ㄨ ㄩ ㄈ ㆺ ㆳ 工 ㆲ 讠 丁.
_CJK_LATIN_LIKE = frozenset(
    "\u4e00\u3127\u4e28\u4e5b\u4e03\u4e05\u5341\u3007\u3112\u311a"
    "\u311f\u3128\u3129\u3108\u31ba\u31b3\u5de5\u31b2\u8ba0\u4e01"
)
# ノ ン ソ ゾ 丶 乀 乁 丿, which look like slashes between two non-Japanese characters.
_SLASH_LIKE = frozenset("\u30ce\u30f3\u30bd\u30be\u4e36\u4e40\u4e41\u4e3f")
_KANA_ITERATION = frozenset("\u30fd\u30fe")  # ヽ ヾ: only after katakana
_PROLONGED_SOUND = "\u30fc"  # ー reads as a hyphen: only after kana
_KATAKANA_MIDDLE_DOT = "\u30fb"  # ・ reads as a dot: never next to a-z
_HIRAGANA_HE = frozenset("\u3078\u3079\u307a")  # へ べ ぺ look exactly like katakana ヘ ベ ペ
_KATAKANA_HE = frozenset("\u30d8\u30d9\u30da")
# Characters that make Chromium check the patterns even in a label of one writing system.
_KANA_EXCEPTIONS = _HIRAGANA_HE | _KATAKANA_HE | {"\u30fb", "\u30fc", "\u30fd", "\u30fe"}


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


def _extensions(char: str | None) -> frozenset[str]:
    """The scripts `char` is used with (ICU's Script_Extensions, for the kana that matter):
    ー and the other KATAKANA-HIRAGANA marks belong to both kana."""
    if char is None:
        return frozenset()
    if unicodedata.name(char, "").startswith("KATAKANA-HIRAGANA "):
        return frozenset({"HIRAGANA", "KATAKANA"})
    found = script(char)
    return frozenset({found}) if found is not None else frozenset()


def _odd_latin(char: str, tld: str) -> bool:
    """A non-ASCII Latin letter that may pass for an ASCII one under `tld`."""
    base = unicodedata.normalize("NFD", char)[0]
    if base.isascii() and base.isalpha():
        return False  # an accented ASCII letter shows its accent
    return char not in _LATIN_LETTERS and tld not in _LATIN_LETTERS_OF.get(char, ())


def _invisible_or_stray(label: str) -> bool:
    """A character no browser shows (default-ignorable, ZWNJ or ZWJ, a Hangul jamo, a combining
    accent out of place), or one of a block Chromium leaves out."""
    if (
        DEFAULT_IGNORABLE.search(label)
        or _ZERO_WIDTH_JOINERS.search(label)
        or HANGUL_JAMO.search(label)
        or _RARE_LGC.search(label)
    ):
        return True
    if unicodedata.category(label[0]).startswith("M"):
        return True  # a mark on nothing: IDNA 2008 refuses a label that starts with one
    for index, char in enumerate(label):
        if unicodedata.name(char, "").startswith("COMBINING "):
            before = label[index - 1]  # index > 0: see above
            if char not in _ACCENTS or script(before) not in _LGC or before == "ı":
                return True
    return False


def _whole_script_lookalike(label: str, only: str, tld: str) -> bool:
    """Whether `label`, all of script `only`, is made of letters that look like Latin ones,
    under a top-level domain where that is not normal."""
    if only not in _LATIN_LOOKALIKES or label in _ALLOWED_WORDS:
        return False
    lookalikes, own_tlds = _LATIN_LOOKALIKES[only]
    # As Chromium compares them: `ѓ` is another letter than `г` (and a combining accent,
    # of no script, is left aside).
    own = [ch for ch in label if script(ch) == only]
    if not own or not all(ch in lookalikes for ch in own):
        return False
    in_script = any(script(ch) == only for ch in tld)
    real = is_icann_suffix(tld)
    return not (real and (in_script or tld in own_tlds))


def _digit_lookalike(label: str) -> bool:
    """Only ASCII digits and characters that look like digits, one of those at least."""
    return all(ch in _DIGIT_LOOKALIKES or "0" <= ch <= "9" for ch in label) and any(
        ch in _DIGIT_LOOKALIKES for ch in label
    )


def _dangerous_pattern(label: str) -> bool:
    """Chromium's dangerous patterns: CJK characters that read as Latin letters, slashes or
    hyphens where they meet other scripts."""
    for index, char in enumerate(label):
        before = label[index - 1] if index else None
        after = label[index + 1] if index + 1 < len(label) else None
        near = (_extensions(before), _extensions(after))
        if char in _CJK_LATIN_LIKE and any(
            side is not None and not scripts & _CJK
            for side, scripts in zip((before, after), near, strict=True)
        ):
            return True
        if (
            char in _SLASH_LIKE
            and before is not None
            and after is not None
            and not near[0] & _JAPANESE
            and not near[1] & _JAPANESE
        ):
            return True
        if char in _KANA_ITERATION and "KATAKANA" not in near[0]:
            return True
        if char == _PROLONGED_SOUND and not near[0] & {"HIRAGANA", "KATAKANA"}:
            return True
        if char == _KATAKANA_MIDDLE_DOT and any(
            side is not None and "a" <= side <= "z" for side in (before, after)
        ):
            return True
    return _he_among_other_kana(label)


def _he_among_other_kana(label: str) -> bool:
    """A hiragana へ among katakana only, or a katakana ヘ among hiragana only: each kana's
    he looks exactly like the other's."""
    for he, other in ((_HIRAGANA_HE, "KATAKANA"), (_KATAKANA_HE, "HIRAGANA")):
        inner = label[1:-1]
        rest = [ch for ch in label if other not in _extensions(ch)]
        if len(label) > 2 and len(rest) == 1 and rest[0] in he and rest[0] in inner:
            return True
    return False


def label_may_deceive(label: str, tld: str) -> bool:
    """Whether `label`, under the top-level label `tld`, could pass for another name."""
    if label.isascii():
        return False
    if _invisible_or_stray(label):
        return True
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
    if len(digit_systems) > 1 or _DOT_ABOVE.search(label) or _digit_lookalike(label):
        return True
    one_system = len(scripts) <= 1 or any(scripts <= system for system in _WRITING_SYSTEMS)
    if one_system and _KANA_EXCEPTIONS.isdisjoint(label):
        # Chromium checks a label of one writing system for whole-script look-alikes only.
        return len(scripts) == 1 and _whole_script_lookalike(label, next(iter(scripts)), tld)
    if not one_system and (non_ascii_latin or not any(scripts <= mix for mix in _ALLOWED_MIXES)):
        return True
    return _dangerous_pattern(label)


@lru_cache(maxsize=CACHE_SIZE)
def ascii_form(host: str) -> str:
    """`host` with each non-ASCII label in Punycode (`xn--…`), as browsers send it."""
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in host.split(".")
    )


@lru_cache(maxsize=CACHE_SIZE)
def may_deceive(host: str) -> bool:
    """Whether a label of `host` could pass for another name (see the module's docstring)."""
    if host.isascii():
        return False
    labels = host.split(".")
    return any(label_may_deceive(label, labels[-1]) for label in labels) or (
        _DOTLESS_I in host and _reads_as_known_site(host.replace(_DOTLESS_I, "i"))
    )


def _reads_as_known_site(host: str) -> bool:
    """Whether `host` is a site the referrer table names (github.com, google.com.tr): our
    stand-in for Chromium's list of top domains."""
    found = parse_referrer(b"https://" + host.encode("utf-8"), "")
    return found.domain is not None and (found.medium != "referral" or found.source != found.domain)


def shown_host(host: str) -> str:
    """`host` as reports and the dashboard show it: itself, or `аррӏе.com (xn--80ak6aa92e.com)`
    when it may deceive."""
    return f"{host} ({ascii_form(host)})" if may_deceive(host) else host


def shown_parts(text: str) -> tuple[str, str] | None:
    """`(host, punycode)` when `text` is what `shown_host` makes of a look-alike `host`, None
    for any other text: a cell or legend entry cut to fit keeps the Punycode whole (see
    `analytics.render.table`)."""
    host, beside, rest = text.rpartition(" (")
    if not beside or not rest.endswith(")") or not may_deceive(host):
        return None
    punycode = rest[:-1]
    return (host, punycode) if ascii_form(host) == punycode else None
