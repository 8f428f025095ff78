"""ReceiptLog: append-only JSON lines, several processes at once, bounded by rotation."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cookiewall import ReceiptLog
from tests.test_cookiewall_support import call, make_app

WRITERS = 4
PER_WRITER = 250


def _write_many(path: str, writer: int, count: int, max_bytes: int, backups: int) -> None:
    log = ReceiptLog(path, max_bytes=max_bytes, backups=backups)
    for index in range(count):
        log.record(
            receipt_id=f"w{writer}-{index}",
            action="save",
            policy_version="v1",
            granted=["necessary", "analytics"],
            gpc=False,
        )


def _run_writers(path: Path, max_bytes: int, backups: int) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_write_many, args=(str(path), w, PER_WRITER, max_bytes, backups))
        for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0


def _entries(log: ReceiptLog) -> list[dict[str, object]]:
    entries = []
    for file in log.files():
        for line in file.read_text().splitlines():
            entries.append(json.loads(line))  # every line whole: no interleaving
    return entries


def test_many_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    _run_writers(path, max_bytes=10 * 2**20, backups=2)
    log = ReceiptLog(path)
    entries = _entries(log)
    ids = [e["id"] for e in entries]
    assert len(ids) == WRITERS * PER_WRITER
    assert len(set(ids)) == len(ids)
    for writer in range(WRITERS):  # each process's lines stay in its order
        mine = [i for i in ids if str(i).startswith(f"w{writer}-")]
        assert mine == [f"w{writer}-{n}" for n in range(PER_WRITER)]


def test_rotation_caps_disk_use_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    max_bytes, backups = 8192, 3
    _run_writers(path, max_bytes=max_bytes, backups=backups)
    log = ReceiptLog(path, max_bytes=max_bytes, backups=backups)
    files = log.files()
    assert len(files) == backups + 1
    assert not (tmp_path / f"receipts.jsonl.{backups + 1}").exists()
    for file in files:
        assert file.stat().st_size <= max_bytes
    # The newest receipts survive rotation; every surviving line is whole and unique.
    entries = _entries(log)
    assert len({e["id"] for e in entries}) == len(entries)
    assert sum(f.stat().st_size for f in files) <= max_bytes * (backups + 1)


def test_no_backups_means_one_file(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=0)
    for index in range(100):
        log.record(
            receipt_id=str(index), action="accept_all", policy_version="v", granted=["a"], gpc=True
        )
    assert log.files() == [tmp_path / "r.jsonl"]
    assert (tmp_path / "r.jsonl").stat().st_size <= 1024


def test_entry_has_only_the_promised_fields(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "sub" / "r.jsonl")
    log.record(
        receipt_id="abc", action="withdraw", policy_version="v2", granted={"b", "a"}, gpc=True
    )
    (entry,) = _entries(log)
    assert entry["id"] == "abc"
    assert entry["granted"] == ["a", "b"]
    assert entry["action"] == "withdraw"
    assert entry["gpc"] is True
    assert set(entry) == {"id", "time", "policy_version", "granted", "action", "gpc"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_bytes": 10}, "max_bytes"), ({"backups": -1}, "backups")],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReceiptLog(tmp_path / "r.jsonl", **kwargs)


def test_unknown_action_refused(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="action"):
        log.record(receipt_id="x", action="shrug", policy_version="v", granted=[], gpc=False)


def test_unwritable_log_does_not_block_the_decision(tmp_path: Path) -> None:
    from tests.test_cookiewall_support import call, make_app

    blocker = tmp_path / "dir-not-file"
    blocker.mkdir()
    log = ReceiptLog(tmp_path / "r.jsonl")
    log.path = blocker  # writing a directory fails with an OSError
    app = make_app(receipts=log)
    response = call(app, "POST", "/consent", json={"action": "reject_all"})
    assert response.status_code == 200
    assert app.stats["receipts_failed"] == 1


# -- a receipt whose write fails leaves the log whole -------------------------------------------

# Runs in its own process: RLIMIT_FSIZE makes the kernel cut a write short, as a full disk does.
_SHORT_WRITE = r"""
import asyncio, json, logging, os, resource, signal, sys
import httpx
from cookiewall import Category, ConsentMiddleware, Policy, ReceiptLog

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit: a short write, not a kill
logging.basicConfig(stream=sys.stdout, format="%(message)s")
path, how = sys.argv[1], sys.argv[2]
log = ReceiptLog(path)
policy = Policy("v1", [Category("necessary", required=True), Category("analytics")])

async def ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})

gate = ConsentMiddleware(ok, policy=policy, secret_key="k" * 32, receipts=log)

def decide(receipt_id):
    if how == "log":
        log.record(receipt_id=receipt_id, action="save", policy_version="v1",
                   granted=["analytics"], gpc=False)
        return
    async def post():
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/consent", json={"action": "accept_all"})
    print("status", asyncio.run(post()).status_code)

decide("first-receipt")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 20, hard))
try:
    decide("second-receipt")
except OSError as exc:
    print("failed:", exc.strerror)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
decide("third-receipt")
"""


@pytest.mark.parametrize("how", ["log", "endpoint"])
def test_a_short_receipt_write_leaves_no_partial_line(tmp_path: Path, how: str) -> None:
    """A disk that fills up mid-write (here: RLIMIT_FSIZE) left the first bytes of a receipt
    without a newline; the next receipt was appended to that fragment, so both lines were
    broken JSON. The error was also logged as 'could not write consent receipt: None'."""
    path = tmp_path / "receipts.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", _SHORT_WRITE, str(path), how],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    entries = [json.loads(line) for line in lines[:-1]]  # every line whole
    assert len(entries) == 2
    if how == "log":
        assert [e["id"] for e in entries] == ["first-receipt", "third-receipt"]
        assert "failed: None" not in done.stdout
        assert "failed: " in done.stdout
    else:
        assert done.stdout.count("status 200") == 3  # the decisions all took effect
        assert "could not write consent receipt" in done.stdout
        assert "receipt: None" not in done.stdout


# -- ReceiptLog options: a wrong type is refused when the log is made ------------------------


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"backups": 2.0}, "backups"),  # constructed, then every rotation was a TypeError
        ({"backups": "5"}, "backups"),  # from an environment variable
        ({"backups": True}, "backups"),
        ({"max_bytes": "1048576"}, "max_bytes"),
        ({"max_bytes": 2.5e6}, "max_bytes"),
        ({"max_bytes": None}, "max_bytes"),
        ({"keep_for": 180}, "keep_for"),  # days, meant as a timedelta
        ({"keep_for": "180d"}, "keep_for"),
    ],
)
def test_receipt_log_options_of_the_wrong_type_are_a_value_error(
    tmp_path: Path, options: dict[str, Any], names: str
) -> None:
    with pytest.raises(ValueError, match=names):
        ReceiptLog(tmp_path / "receipts.jsonl", **options)


def decide_status(app: Any) -> int:
    return call(app, "POST", "/consent", json={"action": "accept_all"}).status_code


@pytest.mark.parametrize("options", [{}, {"max_bytes": 1024, "backups": 0}, {"keep_for": None}])
def test_guard_receipt_log_options_of_the_right_type_still_work(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    log = ReceiptLog(tmp_path / "receipts.jsonl", **options)
    app = make_app(receipts=log)
    assert {decide_status(app) for _ in range(12)} == {200}
    assert log.files()
