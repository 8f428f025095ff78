"""Counts in the lines the CLI prints: "1 segment", "2 segments", never "1 segments"."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """`count` and the noun that agrees with it: `singular` for exactly 1, else `plural`
    (default: `singular` + "s"). A phrase with a verb in it gives both forms whole
    ("file that is not a segment", "files that are not segments")."""
    noun = singular if count == 1 else (plural if plural is not None else singular + "s")
    return f"{count} {noun}"
