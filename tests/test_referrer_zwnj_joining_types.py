"""The Joining_Type table behind ZWNJ's rule (RFC 5892 A.1) is Unicode's, as the idna package
has it, for every character a stored label can hold. idna's layout of it is private and has
changed (review r305 F2): it is read by tools/joining_types.py, which knows each one so far.

The hand-made table it replaces (review h298) took the Arabic tatweels with a hamza, a waw or
two dots (U+0883-U+0885, join-causing) for dual-joining letters, and the letters of Mongolian,
Phags-pa, Adlam, Hanifi Rohingya, Manichaean, Sogdian and the other joining scripts beyond
Arabic, Syriac, N'Ko and Mandaic for non-joining ones; no letter was left-joining. Names with
a ZWNJ that Chromium sends were counted as direct visits, and one it refuses was recorded.
Cases of the parser: tests/test_referrer_lookalike_domains.py."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest

from analytics.data.joining_types import (
    JOINS_FOLLOWING,
    JOINS_PRECEDING,
    TRANSPARENT,
    UNICODE_VERSION,
)

# The table's classes -> the Joining_Type values each holds.
CLASSES = {"LD": JOINS_FOLLOWING, "RD": JOINS_PRECEDING, "T": TRANSPARENT}
EVERY_CHARACTER = "".join(map(chr, [*range(0xD800), *range(0xE000, 0x110000)]))
GENERATOR = Path(__file__).resolve().parent.parent / "tools" / "joining_types.py"


@pytest.fixture(scope="module")
def idna_types() -> dict[str, set[int]]:
    """Each Joining_Type value's code points in the installed idna, read by the table's own
    generator, which knows idna's private layouts; skipped where idna has none of them, or
    another Unicode version than the table's (idna 3.20 has 18.0.0, the releases before have
    17.0.0 or older: a character may have changed its type, U+1171E did in 16.0)."""
    idna = pytest.importorskip("idna")  # a dependency of httpx in the dev venv, not analytics'
    spec = importlib.util.spec_from_file_location("joining_types_generator", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    try:
        version, types = generator.from_idna()
    except generator.UnknownIdnaLayout as exc:
        pytest.skip(str(exc))
    if version != UNICODE_VERSION:
        pytest.skip(
            f"idna {idna.__version__} has Unicode {version}'s Joining_Type, the table "
            f"{UNICODE_VERSION}'s (idna 3.20 has it)"
        )
    return dict(types)


@pytest.mark.parametrize("kinds", CLASSES)
def test_the_table_is_unicodes_joining_type(kinds: str, idna_types: dict[str, set[int]]) -> None:
    ours = {ord(char) for char in re.findall(f"[{CLASSES[kinds]}]", EVERY_CHARACTER)}
    unicodes = set().union(*(idna_types.get(kind, set()) for kind in kinds))
    # Characters this Python's unicodedata does not know yet are left out: they are no
    # letter or mark to it, so no label holding one is stored (idna may know a newer Unicode).
    wrong = [
        f"U+{point:04X} {unicodedata.name(chr(point), '')}"
        for point in sorted(ours ^ unicodes)
        if unicodedata.category(chr(point)) != "Cn"
    ]
    assert wrong == []
