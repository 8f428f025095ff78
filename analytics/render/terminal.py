"""Visitor text made harmless for a terminal, in the form each output format allows.

Paths, referrer hosts and campaign tags come from visitors. Printed raw, `\\x1b]0;…\\x07`
retitles the analyst's terminal, `\\x1b[2J` clears it, `\\x1b]8;;url\\x1b\\\\` makes a hidden
link, U+009B (a C1 control) is CSI on terminals that obey C1, and a bidi override (U+202E)
or a zero-width character makes one text look like another. So on a terminal every control
and format character is shown as an escape, as GNU `ls` does by default on a terminal:
`\\x1b`, `\\u202e` in a table or a CSV cell, the JSON escape `\\u202e` inside a JSON string
(still valid JSON, decoding to the same text). A character the terminal's encoding lacks
is escaped too: its UTF-8 bytes would reach an 8-bit terminal as other characters, some of
them C1 controls (the `→` of UTF-8 ends in the byte 0x92).

Only a terminal gets escapes: files and pipes keep the exact text, which programs need.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Controls (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width space
# and joiners, soft hyphen), line and paragraph separators, and lone surrogates (never
# stored, as UTF-8 has none, but a report built in Python may hold one).
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def is_hidden(char: str) -> bool:
    """Whether a terminal may act on `char` or draw it as nothing, rather than show it."""
    return unicodedata.category(char) in ESCAPED_CATEGORIES


def python_escape(char: str) -> str:
    """`char` as Python writes it in a string literal: `\\x1b`, `\\u202e`, `\\U000e0001`."""
    return char.encode("unicode_escape").decode("ascii")


def json_escape(char: str) -> str:
    """`char` as a JSON string escape: `\\u001b`, a surrogate pair beyond the BMP."""
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def html_escape(char: str) -> str:
    """`char` as an HTML character reference, for one the terminal's encoding lacks."""
    return f"&#{ord(char)};"


def lacks(encoding: str | None, char: str) -> bool:
    """Whether the terminal's `encoding` has no byte for `char` (None: UTF-8, lacks none)."""
    if encoding is None:
        return False
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return True
    return False


def shown_char(char: str, encoding: str | None) -> str:
    """What a terminal of `encoding` is given for `char` in plain text: itself or its escape."""
    if is_hidden(char) or lacks(encoding, char):
        return python_escape(char)
    return char


def safe_text(text: str, encoding: str | None = None) -> str:
    """`text` as a terminal is given it: control and format characters escaped (`\\x1b`,
    `\\u202e`), and so is any character `encoding` lacks (None: any is shown)."""
    if text.isprintable() and (encoding is None or text.isascii()):
        return text  # the common case, and the cheap check: nothing to escape
    return "".join(shown_char(char, encoding) for char in text)


class _Escapes(dict[int, str]):
    """A `str.translate` table that works out, once per code point, what to print for it."""

    def __init__(self, choose: Callable[[str], str]) -> None:
        super().__init__()
        self._choose = choose

    def __missing__(self, code: int) -> str:
        shown = self[code] = self._choose(chr(code))
        return shown


def escapes(encoding: str | None = None, *, keep: str = "") -> dict[int, str]:
    """A `str.translate` table that gives `safe_text`'s escapes, but leaves the characters
    of `keep` as they are: for text streamed in pieces (a CSV export), faster than
    `safe_text` one character at a time."""
    return _Escapes(lambda char: char if char in keep else shown_char(char, encoding))


def json_for_terminal(text: str, encoding: str | None = None) -> str:
    """JSON text (as `json.dumps` writes it) with every hidden character, and every one
    `encoding` lacks, written as a JSON escape. Outside its strings JSON text holds only
    printable ASCII and the newlines of its indentation, so the escapes land inside strings,
    and the JSON decodes to the same values."""

    def choose(char: str) -> str:
        if char == "\n":  # json.dumps escapes a newline inside a string: this one is layout
            return char
        return json_escape(char) if is_hidden(char) or lacks(encoding, char) else char

    return text.translate(_Escapes(choose))


def html_for_terminal(text: str, encoding: str | None = None) -> str:
    """An HTML page with every hidden character but its newlines shown as a visible escape
    (`\\x1b`, plain text), and every one `encoding` lacks as a character reference."""

    def choose(char: str) -> str:
        if char == "\n":
            return char
        if is_hidden(char):
            return python_escape(char)
        return html_escape(char) if lacks(encoding, char) else char

    return text.translate(_Escapes(choose))
