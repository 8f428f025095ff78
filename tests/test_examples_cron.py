"""examples/cron runs as written: the crontab's jobs on a fresh site (demo traffic, rollup,
reports, spool emptied), and the rollup wrapper archives what it ingested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

PYTHON = sys.executable


def _demo(var: Path) -> None:
    args = ["--var", str(var), "--weeks", "2", "--visitors", "8"]
    done = subprocess.run(
        [PYTHON, "-m", "examples.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


# -- examples/cron -----------------------------------------------------------------------------


def _cron_commands() -> list[str]:
    lines = (ROOT / "examples" / "cron" / "analytics.cron").read_text().splitlines()
    jobs = [line for line in lines if line.strip() and not line.startswith("#")]
    # /etc/cron.d lines: five time fields, the user, then the command.
    return [line.split(None, 6)[6] for line in jobs]


def test_crontab_jobs_run_as_written_on_a_fresh_site(tmp_path: Path) -> None:
    site = tmp_path / "srv-site"
    _demo(site / "var")
    (site / "var" / "analytics.duckdb").unlink()
    (site / ".venv").symlink_to(Path(PYTHON).parent.parent)
    segments = sorted((site / "var" / "spool").glob("day=*/*.parquet"))
    assert segments
    for command in _cron_commands():
        command = command.replace("cd /srv/site", f"cd {site}")
        done = subprocess.run(
            ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert "ingested" in (site / "var" / "rollup.log").read_text()
    assert "<svg" in next((site / "var").rglob("referrers.html")).read_text()
    # README, "Each segment exactly once": for cron, pick --archive or --delete-ingested, or
    # the spool grows and every run lists every segment ever written.
    assert not list((site / "var" / "spool").glob("day=*/*.parquet"))


def test_rollup_wrapper_archives_what_it_ingested(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _demo(var)
    (var / "analytics.duckdb").unlink()
    env = {**os.environ, "COOKIEWALL_VAR": str(var), "PYTHON": PYTHON}
    done = subprocess.run(
        ["bash", str(ROOT / "examples" / "cron" / "rollup.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (var / "daily_referrers.parquet").stat().st_size > 0
    assert not list((var / "spool").glob("day=*/*.parquet"))
