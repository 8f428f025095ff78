"""`version = 3` in a TOML policy: one line that names the file and says to quote it.

TOML reads an unquoted 3 as a number; the version is text (a new one re-asks every visitor),
and the message was "Policy version must be a non-empty string", which a TOML author reads
as a complaint about something that is not empty. A bare date stays accepted (its ISO form).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cookiewall import Policy

CATEGORIES = '\n[[categories]]\nname = "necessary"\nrequired = true\n'


@pytest.mark.parametrize(
    ("written", "advice"),
    [
        ("3", "version = 3 is a number, but the version must be a non-empty string: quote it"),
        ("12", 'quote it (version = "12")'),
        ("3.1", 'quote it (version = "3.1")'),
        ("0", 'quote it (version = "0")'),
        ("true", "version = true is true/false, but the version must be a non-empty string"),
    ],
)
def test_a_number_for_the_version_says_to_quote_it(
    tmp_path: Path, written: str, advice: str
) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(f"version = {written}\n{CATEGORIES}")
    with pytest.raises(ValueError, match=re.escape(advice)) as raised:
        Policy.from_toml(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("written", "version"),
    [
        ('"3"', "3"),
        ("2026-11-28", "2026-11-28"),
        ('"v3 (cookies reviewed)"', "v3 (cookies reviewed)"),
    ],
)
def test_text_and_dates_are_versions(tmp_path: Path, written: str, version: str) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(f"version = {written}\n{CATEGORIES}")
    assert Policy.from_toml(path).version == version


@pytest.mark.parametrize("written", ['""', '"  "', "[3]"])
def test_other_versions_keep_the_plain_message(tmp_path: Path, written: str) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(f"version = {written}\n{CATEGORIES}")
    with pytest.raises(ValueError, match="Policy version must be a non-empty string"):
        Policy.from_toml(path)
