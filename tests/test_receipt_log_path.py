"""`ReceiptLog(path)`: a path that can never hold the log is refused when the log is made.

Before, `ReceiptLog("var/")` (a folder) was accepted, and every visitor's decision then
failed to write its receipt (logged and counted, the choice still taking effect): the site
ran with no proof of consent at all until someone read the error log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cookiewall import ReceiptLog


def test_a_folder_is_refused_with_a_message_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a folder") as raised:
        ReceiptLog(folder)
    assert str(folder) in str(raised.value)


def test_a_symlink_to_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "receipts.jsonl").symlink_to(tmp_path / "var")
    with pytest.raises(ValueError, match="is a folder"):
        ReceiptLog(tmp_path / "receipts.jsonl")


def test_a_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("not a folder")
    with pytest.raises(ValueError, match="cannot make the folder") as raised:
        ReceiptLog(tmp_path / "var" / "receipts.jsonl")
    assert str(tmp_path / "var") in str(raised.value)


def test_a_symlink_to_a_file_is_appended_through(tmp_path: Path) -> None:
    """Where a deployment keeps the log elsewhere and links it in: the target gets the lines."""
    target = tmp_path / "elsewhere.jsonl"
    target.write_bytes(b"")
    (tmp_path / "receipts.jsonl").symlink_to(target)
    ReceiptLog(tmp_path / "receipts.jsonl").record(
        receipt_id="abc", action="save", policy_version="1", granted=[], gpc=False
    )
    assert json.loads(target.read_bytes())["id"] == "abc"


def test_a_new_log_is_readable_by_its_owner_and_group_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        log = ReceiptLog(tmp_path / "receipts.jsonl")
        log.record(receipt_id="abc", action="save", policy_version="1", granted=[], gpc=False)
    finally:
        os.umask(old)
    assert log.path.stat().st_mode & 0o777 == 0o640
