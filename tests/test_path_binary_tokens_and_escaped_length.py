"""Two gaps a review found in keeping a path's bytes that are not UTF-8 as escapes.

A binary token sent percent-encoded (`/download/%90%5B%BD…`, 16 to 32 random bytes) was
stored byte for byte as escapes, where before its bytes became U+FFFD and it could not be
recovered: no redaction rule reads a run of `%XX` as a token. A segment that is mostly such
bytes (4 or more, a quarter of it or more) is now redacted; a Latin-1 word (one or two) is
kept. And control characters, percent-encoded after the path was cut to MAX_PATH_LENGTH, made
a stored path up to nine times that long.
"""

from __future__ import annotations

import random
from urllib.parse import quote, unquote

import pytest

from analytics.paths import MAX_PATH_LENGTH, REDACTED, redact_sent_path


def _stored(raw: str) -> str:
    """What is stored for a path sent as `raw`, with `path` decoded as uvicorn decodes it."""
    return redact_sent_path(unquote(raw), raw.encode("ascii"))


@pytest.mark.parametrize("length", [16, 20, 24, 32])
def test_a_binary_token_is_not_stored(length: int) -> None:
    rng = random.Random(length)
    stored_whole = []
    for _ in range(300):
        token = quote(rng.randbytes(length), safe="")
        stored = _stored(f"/download/{token}")
        if stored != f"/download/{REDACTED}" and "\ufffd" not in unquote(token, errors="replace"):
            continue  # its bytes happen to be UTF-8 text: judged as text, as before
        if stored != f"/download/{REDACTED}":
            stored_whole.append(stored)
    # 4 or more bytes that are not UTF-8 in 16 random bytes: all but about 1 in 100
    assert len(stored_whole) <= 300 * 0.03, stored_whole[:5]


@pytest.mark.parametrize(
    "raw",
    [
        "/caf%E9",
        "/na%EFve",
        "/stra%DFe/m%FCller",
        "/gr%F6%DFe",  # two
        "/%C4rger-%FCber-die-Gr%F6%DFe-von-Stra%DFen",  # five in 35 characters
    ],
)
def test_latin1_words_are_kept(raw: str) -> None:
    assert _stored(raw) == raw


@pytest.mark.parametrize("control", ["%00", "%E2%80%AE", "%C2%9B", "%1B"])
def test_a_path_of_control_characters_is_stored_within_the_length(control: str) -> None:
    for raw in (f"/{control * 510}", f"/x/{control * 500}", f"/a/{'b/' * 100}{control * 400}"):
        stored = _stored(raw)
        assert len(stored) <= MAX_PATH_LENGTH, (control, len(stored))
