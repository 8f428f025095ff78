"""The fork gate: a fork waits while a recorder thread is inside Arrow, not while it does
Python work or waits for the disk, and never longer than FORK_WAIT (analytics.forkgate).

Found by CI: a child forked while the flusher was in its first `dictionary_encode` hung for
ever in `arrow::internal::tracing::GetTracer` (a C++ static initialisation guard the parent's
flusher thread held at the fork, and that nobody in the child would release)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import analytics.capture as capture_module
import analytics.forkgate as forkgate
import analytics.spool as spool_module
from analytics.event import EVENT_SCHEMA
from analytics.forkgate import arrow_section
from analytics.recorder import Capture, Recorder
from analytics.useragents import classify_user_agent
from tests.support import ROOT

# Each case forks in a fresh interpreter: never in pytest's own process, whose threads a child
# would inherit. A child exits 0 once it could take the gate itself (a stuck gate would hang
# it: the test's timeout and faulthandler turn that into a failure).
FORK_SCRIPT = r"""
import faulthandler, json, os, sys, threading, time
import analytics.forkgate as forkgate
from analytics.forkgate import arrow_section, python_section

case = sys.argv[1]
forkgate.FORK_WAIT = float(sys.argv[2])
inside = threading.Event()
done = threading.Event()


def worker():
    with arrow_section():
        if case == "python":
            with python_section():
                inside.set()
                time.sleep(1.0)
        else:
            inside.set()
            time.sleep(0.5 if case == "arrow" else 3.0)
        done.set()  # still inside the section


def fork():
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        faulthandler.dump_traceback_later(10, exit=True)
        with arrow_section():  # the child's gate is free, whatever the parent's threads held
            pass
        os._exit(0)
    waited = time.monotonic() - started
    return waited, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


if case == "nested":  # the forking thread is itself inside a section: no wait, no deadlock
    with arrow_section():
        with arrow_section():
            waited, status = fork()
    done.set()
else:
    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)
    waited, status = fork()
    finished_before = done.is_set()
    thread.join()
print(json.dumps({"waited": waited, "status": status, "finished_before": done.is_set()
                  if case == "nested" else finished_before}))
"""


def _fork_case(case: str, fork_wait: float = 5.0) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, case, str(fork_wait)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == 0  # the child took the gate and exited
    return report


def test_a_fork_waits_for_a_thread_inside_arrow() -> None:
    report = _fork_case("arrow")
    assert report["finished_before"]  # the section ended before the fork went ahead
    assert report["waited"] >= 0.2


def test_a_fork_does_not_wait_for_python_work_inside_a_section() -> None:
    report = _fork_case("python")
    assert not report["finished_before"]
    assert report["waited"] < 0.5  # the worker sleeps 1 s with the gate open


def test_a_fork_stops_waiting_after_fork_wait_and_the_child_has_a_free_gate() -> None:
    report = _fork_case("stuck", fork_wait=0.3)
    assert not report["finished_before"]  # the worker holds the gate for 3 s
    assert 0.25 <= report["waited"] < 2.5


def test_a_fork_from_inside_a_section_neither_waits_nor_breaks_the_child() -> None:
    report = _fork_case("nested")
    assert report["waited"] < 1.0


_NESTING = """
import analytics.forkgate as forkgate
from analytics.forkgate import arrow_section, python_section
with python_section():  # outside any section: the gate stays as it was
    assert not forkgate._gate.locked()
with arrow_section():
    with arrow_section():
        assert forkgate._gate.locked()
        with python_section():
            assert not forkgate._gate.locked()
            with arrow_section():  # Arrow work inside a Python step (an odd clock value)
                assert forkgate._gate.locked()
            assert not forkgate._gate.locked()
        assert forkgate._gate.locked()
    assert forkgate._gate.locked()
assert not forkgate._gate.locked()
print("ok")
"""


def test_sections_nest_and_python_section_alone_does_nothing() -> None:
    # In a process of its own: the gate is the process's, and in the suite's process a
    # recorder thread of another test may hold it at any moment (one did, in a CI run).
    done = subprocess.run(
        [sys.executable, "-c", _NESTING], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


# --- the recorder's threads hold it for their Arrow work only ------------------------------


def _capture(peer: str | None, *, hash_allowed: bool) -> Capture:
    agent = b"Mozilla/5.0 (X11; Linux x86_64)"
    consent = "all" if hash_allowed else "none"
    return Capture(
        time.time(), "/", "GET", 200, b"", None, agent, peer, None, consent, hash_allowed
    )


def test_a_conversion_holds_the_gate_for_arrow_and_opens_it_for_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, list[bool]] = {"factorize": [], "classify": [], "hash": []}
    real_factorize = capture_module._factorize
    real_classify = classify_user_agent

    def factorize(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["factorize"].append(forkgate._gate.locked())
        return real_factorize(*args, **kwargs)

    def classify(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["classify"].append(forkgate._gate.locked())
        return real_classify(*args, **kwargs)

    monkeypatch.setattr(capture_module, "_factorize", factorize)
    monkeypatch.setattr("analytics.capture.classify_user_agent", classify)
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=60)
    real_visitor_ids = recorder.visitor_ids

    def visitor_ids(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["hash"].append(forkgate._gate.locked())
        return real_visitor_ids(*args, **kwargs)

    monkeypatch.setattr(recorder, "visitor_ids", visitor_ids)
    recorder.add(_capture("203.0.113.9", hash_allowed=True))
    recorder.convert()
    assert not forkgate._gate.locked()  # released once the conversion is over
    assert seen["factorize"]
    assert all(seen["factorize"])
    assert seen["classify"] == [False]
    assert seen["hash"] == [False]
    assert recorder.stats.errors == 0
    recorder.close()


def test_a_segment_is_encoded_inside_the_gate_and_written_outside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, list[bool]] = {"encode": [], "fsync": []}
    real_write_table = pq.write_table
    real_fsync = os.fsync

    def write_table(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["encode"].append(forkgate._gate.locked())
        return real_write_table(*args, **kwargs)

    def fsync(fd: int) -> None:
        seen["fsync"].append(forkgate._gate.locked())
        real_fsync(fd)

    monkeypatch.setattr(pq, "write_table", write_table)
    monkeypatch.setattr(os, "fsync", fsync)
    table = EVENT_SCHEMA.empty_table()
    path = spool_module.write_segment(tmp_path, date(2026, 11, 28), table)
    assert seen == {"encode": [True], "fsync": [False, False]}  # the file, then its folder
    assert spool_module.read_segment(path).num_rows == 0
    assert not forkgate._gate.locked()


def test_a_gate_held_by_another_thread_does_not_block_the_request_path(tmp_path: Path) -> None:
    # Only the recorder's threads and forks take the gate: add() never waits for it.
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=60)
    release = threading.Event()

    def hold() -> None:
        with arrow_section():
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        started = time.monotonic()
        for _ in range(100):
            recorder.add(_capture(None, hash_allowed=False))
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        holder.join()
    recorder.close()
    assert recorder.stats.flushed == 100
