"""A policy file saved "UTF-8 with BOM" (older Windows Notepad, some editors' default).

tomllib refuses the byte-order mark as "Invalid statement (at line 1, column 1)", which
points at a line that looks perfectly fine in the editor. The message now says what is there
and what to do, and names the file, like every other policy-file mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cookiewall import Policy

BODY = b'version = "1"\n[[categories]]\nname = "necessary"\nrequired = true\n'


@pytest.mark.parametrize(
    "prefix", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf"], ids=["bom", "two-boms"]
)
def test_a_byte_order_mark_is_named_with_the_file(tmp_path: Path, prefix: bytes) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_bytes(prefix + BODY)
    with pytest.raises(ValueError, match="byte-order mark") as raised:
        Policy.from_toml(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "without BOM" in message
    assert "\n" not in message


def test_the_same_file_without_the_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_bytes(BODY)
    assert Policy.from_toml(path).required_names == {"necessary"}


def test_a_utf16_file_is_named_as_not_utf8(tmp_path: Path) -> None:
    """Notepad's "Unicode" is UTF-16: its mark is not valid UTF-8 and is reported as such."""
    path = tmp_path / "cookiewall.toml"
    path.write_bytes(BODY.decode().encode("utf-16"))
    with pytest.raises(ValueError, match="not UTF-8") as raised:
        Policy.from_toml(path)
    assert str(raised.value).startswith(f"{path}: ")
