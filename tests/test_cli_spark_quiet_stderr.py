"""`rollup --engine spark -q` writes nothing to stderr when all is well (cron mails any output),
and a run that SIGTERM, Ctrl-C or the death of its driver JVM stops says only the CLI's one
line. Real `python -m analytics` processes, each starting its own Spark driver (marked `spark`
and `slow`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from analytics.cli import SPARK_DRIVER_STOPPED
from tests.cli_support import cli, five_day_spool
from tests.support import ROOT

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# What the JVM itself prints when started with an incubator module, as Spark's launcher always
# starts it (--add-modules=jdk.incubator.vector): no JVM option silences it.
JVM_INCUBATOR_WARNING = "WARNING: Using incubator modules: jdk.incubator.vector"
STARTUP_SECONDS = 240  # a JVM and Spark's first jobs, on a busy 2-core machine
KILL_JVM = "SIGKILL to the driver JVM"  # as the kernel's OOM killer or a `kill -9` would


def _stderr_lines(err: bytes) -> list[str]:
    return [line for line in err.decode().splitlines() if line != JVM_INCUBATOR_WARNING]


def _driver_jvm(python: int) -> int:
    """The `java` child (pyspark's launcher execs it) of the CLI's process."""
    children = Path(f"/proc/{python}/task/{python}/children").read_text().split()
    jvms = [int(pid) for pid in children if Path(f"/proc/{pid}/comm").read_text().strip() == "java"]
    assert len(jvms) == 1, children
    return jvms[0]


@pytest.fixture
def spark_argv(tmp_path: Path) -> list[str]:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ on PATH")
    spool = five_day_spool(tmp_path)
    output = tmp_path / "rollups"
    return cli("rollup", "--engine", "spark", "--spool", str(spool), "--output", str(output), "-q")


@pytest.mark.parametrize(
    ("stop", "code", "line"),
    [
        pytest.param(signal.SIGTERM, 143, "stopped by SIGTERM", id="SIGTERM"),
        pytest.param(signal.SIGINT, 130, "interrupted", id="Ctrl-C"),
        pytest.param(KILL_JVM, 2, SPARK_DRIVER_STOPPED, id="driver-JVM-killed"),
    ],
)
def test_a_stopped_spark_run_says_one_line(
    spark_argv: list[str], stop: signal.Signals | str, code: int, line: str
) -> None:
    # Before: a SIGTERM in a call to the JVM added py4j's `ERROR:root:KeyboardInterrupt while
    # sending command.` with a traceback (or came out as py4j's "Answer from Java side is
    # empty": exit 1); a Ctrl-C, through pyspark's own SIGINT handler, py4j's "Exception while
    # sending command." and a traceback; a driver JVM that died, two tracebacks and exit 1.
    output = Path(spark_argv[spark_argv.index("--output") + 1])
    stopped = subprocess.Popen(spark_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + STARTUP_SECONDS
    # The manifest is written as the run begins, before its Spark jobs: from then on the
    # driver waits in calls to the JVM.
    while not (output / "_cookiewall.json").exists() and time.monotonic() < deadline:
        assert stopped.poll() is None, stopped.communicate()
        time.sleep(0.05)
    if stop == KILL_JVM:
        os.kill(_driver_jvm(stopped.pid), signal.SIGKILL)
    else:
        assert isinstance(stop, signal.Signals)
        stopped.send_signal(stop)
    out, err = stopped.communicate(timeout=120)
    assert (stopped.returncode, out, _stderr_lines(err)) == (
        code,
        b"",
        [f"analytics: error: {line}"],
    ), err.decode()


def test_a_quiet_spark_run_is_silent(spark_argv: list[str]) -> None:
    # Before: every run wrote Spark's start-up lines to stderr (the default log4j profile,
    # the host name, the native-hadoop library, the log level), `-q` included.
    finished = subprocess.run(spark_argv, capture_output=True, cwd=ROOT, timeout=STARTUP_SECONDS)
    assert (finished.returncode, finished.stdout, _stderr_lines(finished.stderr)) == (0, b"", [])
