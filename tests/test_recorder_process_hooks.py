"""One fork handler and one exit handler for all of a process's recorders: each live recorder
is reset in a forked child and flushed at exit, and a recorder that is gone is neither kept
alive nor called (a handler per Recorder stayed registered for ever, and every fork called
all of those ever made). A child forked while its parent's recorder writes or converts
records on its own and writes nothing of the parent's twice."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import analytics.recorder as recorder_module
from analytics.recorder import Capture, Recorder
from analytics.spool import list_segments, read_segment
from tests.support import ROOT

EXIT_SCRIPT = r"""
import sys, time
from pathlib import Path
from analytics.recorder import Capture, Recorder

base = Path(sys.argv[1])
failing = Recorder(base / "failing", "example.com", flush_interval=3600)
working = Recorder(base / "working", "example.com", flush_interval=3600)


def close():
    raise RuntimeError("secret-marker 203.0.113.9")


failing.close = close  # the exit handler meets this one first or second: either way
for recorder in (failing, working):
    for n in range(5):
        recorder.add(Capture(time.time(), f"/exit/{n}", "GET", 200, b"", None, b"curl/8",
                             None, None, "none", False))
# No close(): the interpreter exits with events buffered.
"""


def _paths(spool: Path) -> list[str]:
    return [
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path).column("path").to_pylist()
    ]


def test_exit_writes_every_live_recorders_events_even_when_one_fails(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(_paths(tmp_path / "working")) == [f"/exit/{n}" for n in range(5)]
    # One line naming the failure's type and place; never its message, never a traceback.
    assert "closing a recorder at exit failed (RuntimeError at" in done.stderr
    assert "secret-marker" not in done.stderr
    assert "203.0.113.9" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_recorder_that_is_gone_is_not_kept_for_the_handlers(tmp_path: Path) -> None:
    gc.collect()  # earlier tests' recorders in reference cycles: not counted in `before`
    before = len(recorder_module._live_recorders)
    recorders = [Recorder(tmp_path / f"spool{n}", "example.com") for n in range(20)]
    assert len(recorder_module._live_recorders) == before + 20
    del recorders
    gc.collect()
    assert len(recorder_module._live_recorders) == before


def test_a_used_and_closed_recorder_is_collected(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=0.05)
    recorder.add(
        Capture(time.time(), "/", "GET", 200, b"", None, b"curl/8", None, None, "none", False)
    )
    recorder.close()
    assert _paths(tmp_path / "spool") == ["/"]
    gc.collect()  # only this recorder may leave the set below
    before = len(recorder_module._live_recorders)
    del recorder
    gc.collect()
    assert len(recorder_module._live_recorders) == before - 1


# Run in a fresh interpreter: the fork happens there, never in pytest's own process (whose
# threads and plugins a forked child would inherit). A child that hangs dumps its stacks and
# exits 1 after CHILD_TIMEOUT seconds instead of hanging the test.
CHILD_TIMEOUT = 20


FORK_SCRIPT = r"""
import faulthandler, json, os, sys, threading, time
from pathlib import Path

import analytics.recorder as recorder_module
from analytics.recorder import Capture, Recorder

spool, mode, forks = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
parent = os.getpid()
held = threading.Event()  # the parent's writer is inside its write
release = threading.Event()

if mode == "write":
    real_write = recorder_module.write_segment

    def stalled_write(*args, **kwargs):
        if os.getpid() == parent and not release.is_set():
            held.set()  # the write lock is held from here until the forks are done
            release.wait(30)
        return real_write(*args, **kwargs)

    recorder_module.write_segment = stalled_write

recorder = Recorder(spool, "example.com", flush_interval=0.05)


def capture(path, n):
    # A user agent never seen before: the flusher parses each one (no cache hit).
    agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:{n}.0) Gecko/20100101 Firefox/{n}.0"
    return Capture(
        time.time(), path, "GET", 200, b"https://news.ycombinator.com/", None,
        agent.encode(), "203.0.113.9", None, "all", True,
    )


added = 0
stop = threading.Event()


def traffic():
    global added
    while not stop.is_set():
        for _ in range(100):
            recorder.add(capture(f"/parent/{added}", added))
            added += 1
        time.sleep(0.002)


for n in range(50):  # buffered before any fork: the children must not write these again
    recorder.add(capture(f"/parent/early-{n}", 100_000 + n))
if mode == "write":
    assert held.wait(10), "the writer never started"
feeder = threading.Thread(target=traffic, daemon=True)
feeder.start()

children = []
for k in range(forks):
    time.sleep(0.02)
    pid = os.fork()
    if pid == 0:  # the child: records a few requests of its own, then shuts down
        faulthandler.dump_traceback_later(CHILD_TIMEOUT, exit=True)
        for i in range(3):
            recorder.add(capture(f"/child/{k}/{i}", 200_000 + 10 * k + i))
        recorder.close()
        os._exit(0)
    children.append(pid)
release.set()
statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
stop.set()
feeder.join()
recorder.close()
print(json.dumps({"statuses": statuses, "parent_events": added + 50}))
""".replace("CHILD_TIMEOUT", str(CHILD_TIMEOUT))


def _recorded_paths(spool: Path) -> list[str]:
    paths: list[str] = []
    for segment in list_segments(spool):
        paths.extend(read_segment(segment.path).column("path").to_pylist())
    return paths


@pytest.mark.parametrize(
    ("mode", "forks"),
    [
        # The writer thread is stalled inside its write (write lock held) at every fork.
        ("write", 6),
        # Forks during the first conversions: the flusher is parsing user agents (the
        # parser's first load, its cache) when the child is made.
        ("convert", 12),
    ],
)
def test_a_child_forked_mid_flush_records_on_its_own_and_writes_nothing_twice(
    tmp_path: Path, mode: str, forks: int
) -> None:
    spool = tmp_path / "spool"
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, str(spool), mode, str(forks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    # A child stuck on a lock its parent's thread held at the fork exits 1 via faulthandler.
    assert report["statuses"] == [0] * forks, done.stderr[-3000:]

    paths = _recorded_paths(spool)
    counts = Counter(paths)
    assert [path for path, n in counts.items() if n > 1] == []  # nothing written twice
    children = {path for path in paths if path.startswith("/child/")}
    assert children == {f"/child/{k}/{i}" for k in range(forks) for i in range(3)}
    parents = [path for path in paths if path.startswith("/parent/")]
    assert len(parents) == report["parent_events"]  # the parent lost none of its own
    names = [segment.path.name for segment in list_segments(spool)]
    assert len(set(names)) == len(names)
    pids = {name.split("-")[2] for name in names}
    assert len(pids) == forks + 1  # every child sealed segments under a name of its own


# A worker process that multiprocessing starts and that stops without closing its recorder
# (no lifespan shutdown: granian's `--interface asginl`). Under "fork" and "forkserver" the
# child ends with os._exit, which runs no atexit handler; the recorder is made in the child (as
# granian's workers build the app) or inherited (an app module imported before the fork: by
# the parent under "fork", by the fork server as its preload under "forkserver"). With `late`,
# a non-daemon thread (a request still being answered) records after the target has returned,
# so after multiprocessing's exit finalizers; with `stuck`, only once the test makes a file;
# with `reaper`, while another app thread joins every other non-daemon thread before it ends
# (a graceful-stop helper); with `executor`, in a ThreadPoolExecutor the app never shuts down.
MULTIPROCESSING_EXIT_SCRIPT = r"""
import concurrent.futures, multiprocessing, os, sys, threading, time
from pathlib import Path
import analytics.recorder as recorder_module
from analytics.recorder import Capture, Recorder

spool, method, made_in, late = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
release = spool.parent / "release"
if late.startswith("stuck"):
    recorder_module.LATE_THREADS_WARNING = 0.5


def record(recorder, prefix):
    for n in range(5):
        recorder.add(Capture(time.time(), f"/{prefix}/{n}", "GET", 200, b"", None, b"curl/8",
                             None, None, "none", False))


def record_late(recorder):
    if late.startswith("stuck"):
        given_up = time.monotonic() + 180  # for ever, as far as the child can tell
        while not release.exists() and time.monotonic() < given_up:
            time.sleep(0.05)
    else:
        time.sleep(0.5)
    if late != "stuck-quiet":
        record(recorder, "late")


def join_the_others():
    time.sleep(0.2)
    for thread in threading.enumerate():
        if thread not in (threading.current_thread(), threading.main_thread()):
            if not thread.daemon:
                thread.join()


def worker(spool):
    if made_in == "parent":
        import inherited_recorder
        assert inherited_recorder.made_in != os.getpid(), "made in the child, not inherited"
        recorder = inherited_recorder.recorder
    else:
        recorder = Recorder(spool, "example.com", flush_interval=3600)
    record(recorder, "worker")
    if late == "stuck-quiet":
        recorder.close()  # the app's lifespan shutdown: nothing is left to write at exit
    if late == "executor":
        concurrent.futures.ThreadPoolExecutor(1).submit(record_late, recorder)
    elif late != "none":
        threading.Thread(target=record_late, args=(recorder,)).start()
    if late == "reaper":
        threading.Thread(target=join_the_others).start()
    # No close(): the worker's target returns and the process ends.


if __name__ == "__main__":
    context = multiprocessing.get_context(method)
    if made_in == "parent":
        os.environ["INHERITED_SPOOL"] = str(spool)  # the fork server reads it too
        if method == "forkserver":
            context.set_forkserver_preload(["inherited_recorder"])
        else:
            import inherited_recorder
    child = context.Process(target=worker, args=(spool,))
    child.start()
    child.join(60)
    if child.exitcode is None:
        child.kill()
        sys.exit("the child still ran after 60 s")
    sys.exit(child.exitcode)
"""

INHERITED_RECORDER_MODULE = """
import os
from analytics.recorder import Recorder

made_in = os.getpid()
recorder = Recorder(os.environ["INHERITED_SPOOL"], "example.com", flush_interval=3600)
"""


def _script_env(script: Path) -> dict[str, str]:
    # The script's folder too: Python 3.11's fork server is not given the parent's sys.path
    # (it takes the preloaded module from PYTHONPATH, as an installed app would be found).
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(script.parent)])}


def _run_script(script: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """Run `script` with `args` in a fresh interpreter that imports this tree; it must exit 0
    without a traceback (a failed close at exit is one log line, never a traceback)."""
    done = subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        cwd=ROOT,
        env=_script_env(script),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def _workers_script(folder: Path) -> Path:
    """The worker script in `folder` (a file: "spawn" re-imports the main module), with the
    module an inherited recorder is made by."""
    (folder / "inherited_recorder.py").write_text(INHERITED_RECORDER_MODULE)
    script = folder / "workers.py"
    script.write_text(MULTIPROCESSING_EXIT_SCRIPT)
    return script


WORKER_EVENTS = [f"/worker/{n}" for n in range(5)]
LATE_EVENTS = [f"/late/{n}" for n in range(5)]


@pytest.mark.parametrize(
    ("method", "made_in", "late"),
    [
        ("fork", "child", "none"),
        ("fork", "parent", "none"),
        ("forkserver", "child", "none"),
        ("forkserver", "parent", "none"),
        ("spawn", "child", "none"),
        # Closed once the thread has ended (the at-exit close once did nothing here: 1 of 6).
        ("spawn", "child", "late"),
        # Before Python 3.13 the finalizer's close came before the thread's events, and
        # os._exit after them.
        ("fork", "child", "late"),
        ("forkserver", "child", "late"),
        # The close after the wait must add nothing the app's threads could wait for (a
        # thread of ours that joined the others once hung with one that did the same).
        ("fork", "child", "reaper"),
        ("spawn", "child", "reaper"),
        # ... nor wait before threading's own atexit calls, which stop idle pool workers.
        ("fork", "child", "executor"),
    ],
    ids=[
        "fork-made-in-child",
        "fork-inherited",
        "forkserver-made-in-child",
        "forkserver-inherited-from-its-preload",
        "spawn",
        "spawn-a-thread-records-after-the-target-returns",
        "fork-a-thread-records-after-the-target-returns",
        "forkserver-a-thread-records-after-the-target-returns",
        "fork-an-app-thread-joins-the-others",
        "spawn-an-app-thread-joins-the-others",
        "fork-a-thread-pool-left-open-records-after-the-target-returns",
    ],
)
def test_a_multiprocessing_worker_that_exits_without_closing_writes_its_events_once(
    tmp_path: Path, method: str, made_in: str, late: str
) -> None:
    script = _workers_script(tmp_path)
    _run_script(script, tmp_path / "spool", method, made_in, late)
    late_events = LATE_EVENTS if late != "none" else []
    assert sorted(_paths(tmp_path / "spool")) == sorted(WORKER_EVENTS + late_events)


@pytest.mark.skipif(
    sys.version_info >= (3, 13),
    reason="Python 3.13+ runs a child's exit finalizers after its wait for threads: meanwhile"
    " the flusher writes every flush_interval, as in any process (the test sets an hour)",
)
@pytest.mark.parametrize(
    ("method", "late"),
    [("fork", "stuck"), ("forkserver", "stuck"), ("spawn", "stuck"), ("fork", "stuck-quiet")],
    ids=["fork", "forkserver", "spawn", "fork-recorder-closed-by-the-app-says-nothing"],
)
def test_a_worker_whose_thread_outlives_the_wait_is_written_before_and_after(
    tmp_path: Path, method: str, late: str
) -> None:
    # The child waits for its non-daemon thread however long it runs (CPython's own wait, with
    # or without a recorder): what was recorded before is on disk meanwhile, one line says
    # why the child has not ended if events wait for the thread, and its events are written
    # when it ends. With nothing of ours left to write ("stuck-quiet"), analytics says nothing.
    quiet = late == "stuck-quiet"
    script = _workers_script(tmp_path)
    spool, stderr = tmp_path / "spool", tmp_path / "stderr"
    line = "analytics: this process has waited 0.5 s for 1 thread(s) to end before it exits"

    def state() -> str:
        return f"{_paths(spool) if spool.is_dir() else 'no spool'}\n{stderr.read_text()}"

    with stderr.open("w") as errors:
        child = subprocess.Popen(
            [sys.executable, str(script), str(spool), method, "child", late],
            cwd=ROOT,
            env=_script_env(script),
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # its own process group: its workers are killed with it
        )
    try:
        deadline = time.monotonic() + 60  # a loaded machine takes seconds to import Arrow
        while (
            not spool.is_dir()
            or _paths(spool) != WORKER_EVENTS
            or not (quiet or line in stderr.read_text())
        ):
            assert child.poll() is None, state()
            assert time.monotonic() < deadline, state()
            time.sleep(0.1)
        if quiet:
            time.sleep(2)  # four times the warning's delay: no line may come
        assert child.poll() is None, state()
        (tmp_path / "release").touch()
        assert child.wait(timeout=30) == 0, state()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the script, its worker, the fork server
        child.wait()
    assert sorted(_paths(spool)) == sorted(WORKER_EVENTS + LATE_EVENTS * (not quiet))
    log = stderr.read_text()
    assert log.count(line) == (0 if quiet else 1), log
    assert "Traceback" not in log
    if quiet:
        assert "analytics:" not in log


# The app's own process pool (fork): its workers inherit the recorder, which buffered events
# in the parent, and each writes only what it recorded itself. The configured clock notes
# the pid of every call; only requests and a close call it, so a worker that recorded nothing
# must not (a backfill's clock would skip one replayed timestamp per pool worker).
POOL_SCRIPT = r"""
import json, multiprocessing, os, sys, time
from datetime import UTC, datetime
from pathlib import Path
from analytics.recorder import Capture, Recorder

spool, calls, tasks_record = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "record"


def clock():
    with calls.open("a") as notes:
        notes.write(f"{os.getpid()}\n")
    return datetime.now(UTC)


recorder = Recorder(spool, "example.com", flush_interval=3600, clock=clock)


def capture(path):
    return Capture(time.time(), path, "GET", 200, b"", None, b"curl/8", None, None, "none", False)


def task(n):
    if tasks_record:
        recorder.add(capture(f"/task/{n}"))
    time.sleep(0.1)  # so that both workers take tasks
    return os.getpid()


if __name__ == "__main__":
    for n in range(3):  # buffered at the fork: the pool's workers must not write them again
        recorder.add(capture(f"/parent/{n}"))
    pool = multiprocessing.get_context("fork").Pool(2)
    workers = set(pool.map(task, range(6), chunksize=1))
    pool.close()
    pool.join()  # the workers end normally, through multiprocessing's exit finalizers
    recorder.close()
    print(json.dumps({"parent": os.getpid(), "workers": sorted(workers)}))
"""


@pytest.mark.parametrize(
    "tasks_record", [False, True], ids=["tasks-record-nothing", "tasks-record"]
)
def test_a_pool_worker_closes_the_inherited_recorder_only_if_it_recorded(
    tmp_path: Path, tasks_record: bool
) -> None:
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    calls = tmp_path / "clock-calls"
    done = _run_script(script, tmp_path / "spool", calls, "record" if tasks_record else "nothing")
    report = json.loads(done.stdout.splitlines()[-1])
    called_in = {int(pid) for pid in calls.read_text().split()}
    tasks = [f"/task/{n}" for n in range(6)] if tasks_record else []
    # Each event once: the parent's (buffered at the fork) and the tasks' (written at exit).
    assert sorted(_paths(tmp_path / "spool")) == [f"/parent/{n}" for n in range(3)] + tasks
    assert called_in == {report["parent"], *(report["workers"] if tasks_record else [])}
