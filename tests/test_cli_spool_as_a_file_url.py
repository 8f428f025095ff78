"""`rollup --spool file:///abs/path` (the spelling the Spark engine takes, as does Hadoop's
`file:/abs/path`) is the local folder /abs/path. Before, the DuckDB rollup took the URL for a
relative folder: "spool folder 'file:/abs/path' does not exist or is not a folder", exit 2.
A file: URL that names another machine is refused in one line.

Every spelling is the one folder for the salts too: `file://localhost/abs` had them looked for
in the relative `localhost/abs/salts`, so the expired ones were never deleted (SPEC 4.1), exit
0 (review r286 F1). A folder whose own name starts with `file:` (`file:rel`, `./file:rel`) is
itself: its segments were read by pyarrow as the URI `file:rel/day=…`, and every good one went
to quarantine as corrupt (r286 F2). `file://LOCALHOST/abs` is this machine too (a host name
is read in any case, RFC 3986 3.2.2): it was refused as another machine's folder. So is the
scheme (3.1): `FILE:///abs` was taken for a relative folder, "does not exist" (r305 F5)."""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.visitors import SaltStore
from tests.cli_support import event_count
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 1)
EVENTS = 30


# --spool as given (run in tmp_path) -> the folder it names, relative to tmp_path.
SPELLINGS = {
    "file:///abs": ("file://{root}/spool", "spool"),
    "file://localhost/abs": ("file://localhost{root}/spool", "spool"),
    "file://LOCALHOST/abs": ("file://LOCALHOST{root}/spool", "spool"),  # a host name's case
    "file://LocalHost/abs": ("file://LocalHost{root}/spool", "spool"),  # is no other machine
    "file:/abs": ("file:{root}/spool", "spool"),
    "FILE:///abs": ("FILE://{root}/spool", "spool"),  # nor is a scheme's case
    "File://localhost/abs": ("File://localhost{root}/spool", "spool"),
    "FILE:/abs": ("FILE:{root}/spool", "spool"),
    "file:rel": ("file:rel", "file:rel"),
    "./file:rel": ("./file:rel", "file:rel"),
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_file_url_is_the_local_spool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    spelling: str,
) -> None:  # fmt: skip
    given, folder = SPELLINGS[spelling]
    spool, db = tmp_path / folder, tmp_path / "w.duckdb"
    write_events(spool, events_for_days(random.Random(2), [DAY], per_day=EVENTS))
    today = datetime.now(UTC).date()
    expired = today - timedelta(days=5)
    salts = SaltStore(spool / "salts")
    salts.salt(expired)
    salts.salt(today)
    monkeypatch.chdir(tmp_path)
    argv = ["rollup", "--spool", given.format(root=tmp_path), "--db", str(db)]
    assert main([*argv, "--raw-days", "36500", "--delete-ingested"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"ingested 1 segment ({EVENTS} events, 1 day)")
    assert out.endswith(f"; deleted 1 expired salt ({expired})\n")
    assert event_count(db) == EVENTS
    assert not list(spool.rglob("*.parquet"))  # disposed of there too, none quarantined
    assert sorted(os.listdir(spool / "salts")) == [f"{today}.salt"]


def test_a_file_url_of_another_machine_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.duckdb"
    url = f"file://fileserver{tmp_path}/spool"
    assert main(["rollup", "--spool", url, "--db", str(db)]) == 2
    assert capsys.readouterr() == (
        "",
        f"analytics: error: --spool {url!r} names a folder on another machine; "
        "give a local folder's path\n",
    )
    assert not db.exists()
