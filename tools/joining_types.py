"""Write analytics/data/joining_types.py: Unicode's Joining_Type as RFC 5892's ZWNJ rule asks it.

    python tools/joining_types.py DerivedJoiningType.txt   # from Unicode's own file
    python tools/joining_types.py --from-idna              # from the idna package's copy

DerivedJoiningType.txt is ucd/extracted/DerivedJoiningType.txt of the Unicode version the
browsers' IDNA code (ICU) is built on: https://www.unicode.org/Public/<version>/ucd/. The
idna package (a dev dependency) ships the same property, generated from that file, in
`idna.idnadata` (a private layout, read as `from_idna` says);
tests/test_referrer_zwnj_joining_types.py checks the table against it. Run `ruff format` on
the output afterwards.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "analytics" / "data" / "joining_types.py"
# (name in the module, the Joining_Type values it holds, what it is for)
CLASSES = (
    ("JOINS_FOLLOWING", "LD", "Left_Joining or Dual_Joining: may stand before a ZWNJ"),
    ("JOINS_PRECEDING", "RD", "Right_Joining or Dual_Joining: may stand after a ZWNJ"),
    ("TRANSPARENT", "T", "Transparent (marks): skipped on either side"),
)
_LINE = re.compile(r"([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*([CDLRTU])\b")
_VERSION = re.compile(r"DerivedJoiningType-([0-9.]+)\.txt")


def from_unicode_file(text: str) -> tuple[str, dict[str, set[int]]]:
    """The version and the code points of each Joining_Type in DerivedJoiningType.txt."""
    found = _VERSION.search(text)
    if found is None:
        raise SystemExit("not a DerivedJoiningType.txt: no version line")
    types: dict[str, set[int]] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            first, last, kind = match.groups()
            start = int(first, 16)
            types.setdefault(kind, set()).update(range(start, int(last or first, 16) + 1))
    return found.group(1), types


class UnknownIdnaLayout(Exception):
    """The installed idna keeps Joining_Type in a way this tool does not know."""


def from_idna() -> tuple[str, dict[str, set[int]]]:
    """The same from the installed idna package, whose private `idnadata.joining_types` has
    changed its layout between releases (checked: 3.7, 3.10, 3.13, 3.14, 3.16, 3.17, 3.19,
    3.20; only 3.20 has Unicode 18.0.0):

    * 3.17 to 3.20: a dict of each value ("D", "T", …) to its "intranges", each range
      packed as start << 32 | end, the end exclusive;
    * 3.13 to 3.16: a function (lru_cached) that returns the dict of up to 3.10;
    * up to 3.10: a dict of each code point to ord() of its value.

    Anything else raises UnknownIdnaLayout, rather than a table read wrong."""
    import idna
    from idna import idnadata

    table = getattr(idnadata, "joining_types", None)
    if callable(table):
        try:
            table = table()
        except TypeError:  # a function of some other signature
            table = None
    values = frozenset("CDLRTU")
    ords = frozenset(map(ord, values))
    types: dict[str, set[int]] = {}
    if not isinstance(table, dict):
        table = {}
    if table and all(isinstance(kind, str) and kind in values for kind in table):
        for kind, ranges in table.items():
            if not isinstance(ranges, tuple) or not all(isinstance(r, int) for r in ranges):
                raise UnknownIdnaLayout(f"idna {idna.__version__}: {kind!r} holds no intranges")
            points = types.setdefault(kind, set())
            for packed in ranges:
                points.update(range(packed >> 32, packed & 0xFFFFFFFF))
    elif table and all(isinstance(point, int) and kind in ords for point, kind in table.items()):
        for point, kind in table.items():
            types.setdefault(chr(kind), set()).add(point)
    if not types:
        raise UnknownIdnaLayout(
            f"idna {idna.__version__}: idnadata.joining_types is of a layout this tool does not "
            "know; give DerivedJoiningType.txt instead"
        )
    return idnadata.__version__, types


def _ranges(points: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for point in sorted(points):
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return ranges


def _escaped(point: int) -> str:
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


def _class_body(points: Iterable[int]) -> list[str]:
    """A regex character class's body as lines of a Python string literal, ≤ 80 wide."""
    lines, line = [], ""
    for first, last in _ranges(points):
        part = _escaped(first) + (f"-{_escaped(last)}" if last > first else "")
        if len(line) + len(part) > 80:
            lines.append(line)
            line = ""
        line += part
    return [*lines, line]


def module(version: str, source: str, types: dict[str, set[int]]) -> str:
    out = [
        '"""Unicode\'s Joining_Type, as RFC 5892\'s rule for ZERO WIDTH NON-JOINER asks it',
        "(Appendix A.1): a ZWNJ stands between a letter of Joining_Type L or D and one of R or",
        "D, with none or more of type T (marks) between them and it. Regex character class",
        "bodies, for analytics.referrers.",
        "",
        f"Generated by tools/joining_types.py from {source} (Unicode {version}): do not edit.",
        "Derived from the Unicode Character Database, (c) Unicode, Inc., under the Unicode",
        'License v3 (https://www.unicode.org/license.txt)."""',
        "",
        f'UNICODE_VERSION = "{version}"',
    ]
    for name, kinds, meaning in CLASSES:
        points = set().union(*(types.get(kind, set()) for kind in kinds))
        out += ["", f"# {meaning}", f"{name} = ("]
        out += [f'    "{line}"' for line in _class_body(points)]
        out.append(")")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="Unicode's DerivedJoiningType.txt")
    parser.add_argument("--from-idna", action="store_true", help="read idna's copy instead")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.from_idna == (args.file is not None):
        parser.error("give DerivedJoiningType.txt or --from-idna")
    if args.from_idna:
        import idna

        try:
            version, types = from_idna()
        except UnknownIdnaLayout as exc:
            parser.exit(1, f"{parser.prog}: {exc}\n")
        source = f"idna {idna.__version__}'s idnadata"
    else:
        version, types = from_unicode_file(Path(args.file).read_text(encoding="utf-8"))
        source = "DerivedJoiningType.txt"
    args.output.write_text(module(version, source, types), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
