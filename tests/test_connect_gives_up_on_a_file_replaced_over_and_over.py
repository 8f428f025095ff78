"""A writer's `connect` reopens the database when the file was replaced while DuckDB opened
it (`analytics compact` renames its copy over the name). A file replaced over and over (a
compaction loop elsewhere, two of them) made it reopen forever: the command never returned,
and cron's next runs queued up behind it. Now it gives up as for a lock, after the caller's
wait (`lock_timeout`, the CLI's `--wait`), with the one-line busy error and exit 1.

A real second process replaces the file in a loop, at each open of it: another whole, valid
database file (inode) renamed over the name."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tests.cli_support import cli
from tests.support import ROOT

# Replaces `db` each time a process opens it (inotify's IN_OPEN on its folder): a hard link
# to the next of 16 copies of a pristine database (copies elsewhere, so that their own opens
# are not seen) renamed over the name. A loop that races DuckDB's open would let it win now
# and then on a busy machine; this one replaces the file under every open, as a compaction
# loop that never rests would at worst.
RENAMER = r"""
import ctypes, os, shutil, struct, sys
pristine, db = sys.argv[1], sys.argv[2]
folder, name = os.path.split(db)
copies = []
for i in range(16):
    copy = os.path.join(os.path.dirname(pristine), f"copy{i}.duckdb")
    shutil.copyfile(pristine, copy)
    copies.append(copy)
libc = ctypes.CDLL(None, use_errno=True)
IN_OPEN = 0x20
fd = libc.inotify_init()
assert fd >= 0 and libc.inotify_add_watch(fd, folder.encode(), IN_OPEN) >= 0
spare = os.path.join(folder, "next")
replaced = 0

def replace():
    global replaced
    os.link(copies[replaced % len(copies)], spare)
    os.rename(spare, db)
    replaced += 1

replace()
print("replacing", flush=True)
while True:
    data = os.read(fd, 65536)
    offset, opened, stop = 0, False, False
    while offset < len(data):
        _, mask, _, size = struct.unpack_from("iIII", data, offset)
        seen = data[offset + 16 : offset + 16 + size].rstrip(b"\0").decode()
        offset += 16 + size
        opened = opened or seen == name
        stop = stop or seen == "stop"
    if opened:
        replace()
    if stop:
        break
print(replaced, flush=True)
"""


def _pristine(root: Path) -> Path:
    (root / "copies").mkdir()
    pristine = root / "copies" / "pristine.duckdb"
    with duckdb.connect(str(pristine)) as con:
        con.execute("CREATE TABLE warehouse_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    return pristine


@contextmanager
def _replaced_at_every_open(root: Path, db: Path) -> Iterator[subprocess.Popen[str]]:
    renamer = subprocess.Popen(
        [sys.executable, "-c", RENAMER, str(_pristine(root)), str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert renamer.stdout is not None
    try:
        assert renamer.stdout.readline().strip() == "replacing"
        yield renamer
    finally:
        (db.parent / "stop").write_text("")  # opened: the renamer's cue to stop
        renamer.wait(timeout=30)
        replaced = renamer.stdout.read()
        renamer.stdout.close()
    assert renamer.returncode == 0
    assert int(replaced) > 3  # it really was replaced again and again


def _connect_in_a_process(db: Path, lock_timeout: float) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from analytics.database import connect\n"
        "from analytics.errors import WarehouseLockedError\n"
        "try:\n"
        f"    connect({str(db)!r}, lock_timeout={lock_timeout!r}).close()\n"
        "except WarehouseLockedError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(1)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_connect_gives_up_after_its_wait_with_the_busy_error(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with _replaced_at_every_open(tmp_path, db):
        started = time.monotonic()
        done = _connect_in_a_process(db, 1.5)
        took = time.monotonic() - started
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == (
        f"database {str(db)!r} is in use by another process (waited 1.5 s); "
        "try again when it has finished\n"
    )
    assert 1.5 <= took < 1.5 + 10  # Python and DuckDB start on top of the wait


def test_the_cli_says_it_in_one_line_and_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    spool = tmp_path / "spool"
    spool.mkdir()
    with _replaced_at_every_open(tmp_path, db):
        done = subprocess.run(
            cli("rollup", "--spool", str(spool), "--db", str(db), "--wait", "1"),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"analytics: error: database {str(db)!r} is in use by another process "
        "(waited 1 s); try again when it has finished\n"
    )
