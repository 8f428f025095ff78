"""`rollup --engine spark -q` writes nothing to stderr when all is well (cron mails any output),
and a run that SIGTERM stops says only the CLI's one line and exits 143. Real `python -m
analytics` processes, each starting its own Spark driver (marked `spark` and `slow`).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_support import cli, five_day_spool
from tests.support import ROOT

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# What the JVM itself prints when started with an incubator module, as Spark's launcher always
# starts it (--add-modules=jdk.incubator.vector): no JVM option silences it.
JVM_INCUBATOR_WARNING = "WARNING: Using incubator modules: jdk.incubator.vector"
STARTUP_SECONDS = 240  # a JVM and Spark's first jobs, on a busy 2-core machine


def _stderr_lines(err: bytes) -> list[str]:
    return [line for line in err.decode().splitlines() if line != JVM_INCUBATOR_WARNING]


def test_a_quiet_spark_run_is_silent_and_a_stopped_one_says_one_line(tmp_path: Path) -> None:
    # Before: every run wrote Spark's start-up lines to stderr (the default log4j profile,
    # the host name, the native-hadoop library, the log level), `-q` included; and a SIGTERM
    # in a call to the JVM added py4j's `ERROR:root:KeyboardInterrupt while sending command.`
    # with a traceback (or came out as py4j's "Answer from Java side is empty": exit 1).
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ on PATH")
    spool = five_day_spool(tmp_path)
    output = tmp_path / "rollups"
    argv = cli("rollup", "--engine", "spark", "--spool", str(spool), "--output", str(output), "-q")

    stopped = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + STARTUP_SECONDS
    # The manifest is written as the run begins, before its Spark jobs: from then on the
    # driver waits in calls to the JVM.
    while not (output / "_cookiewall.json").exists() and time.monotonic() < deadline:
        assert stopped.poll() is None, stopped.communicate()
        time.sleep(0.05)
    stopped.send_signal(signal.SIGTERM)
    out, err = stopped.communicate(timeout=120)
    assert (stopped.returncode, out, _stderr_lines(err)) == (
        143,
        b"",
        ["analytics: error: stopped by SIGTERM"],
    ), err.decode()

    finished = subprocess.run(argv, capture_output=True, cwd=ROOT, timeout=STARTUP_SECONDS)
    assert (finished.returncode, finished.stdout, _stderr_lines(finished.stderr)) == (0, b"", [])
