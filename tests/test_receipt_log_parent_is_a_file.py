"""`ReceiptLog("f/receipts.jsonl")` where `f` (or a folder above it) is a file says so.

Before, the message ended in mkdir's "File exists" (or "Not a directory" a level further
down), which reads as if the folder were already there and the problem lay elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cookiewall import ReceiptLog


@pytest.mark.parametrize(
    "below", ["receipts.jsonl", "logs/receipts.jsonl", "a/b/receipts.jsonl"], ids=["1", "2", "3"]
)
def test_a_file_on_the_way_is_named_as_a_file(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("not a folder")
    path = blocker / below
    with pytest.raises(ValueError, match="cannot make the folder") as raised:
        ReceiptLog(path)
    assert str(raised.value) == (
        f"ReceiptLog: cannot make the folder {path.parent} for {path}: "
        f"{blocker} is a file, not a folder"
    )
    assert blocker.read_text() == "not a folder"


def test_a_link_to_a_file_on_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("x")
    (tmp_path / "var").symlink_to("real")
    with pytest.raises(ValueError, match="var is a file, not a folder"):
        ReceiptLog(tmp_path / "var" / "receipts.jsonl")


def test_a_folder_it_may_make_is_still_made(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "var" / "logs" / "receipts.jsonl")
    assert (tmp_path / "var" / "logs").is_dir()
    log.record(receipt_id="abc", action="save", policy_version="1", granted=[], gpc=False)
    assert log.path.read_text().count("\n") == 1
