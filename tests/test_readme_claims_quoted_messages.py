"""Every error and warning line the README quotes word for word is what the program says.

The README quotes messages so that a reader can recognise them in a cron mail or a log, and
search the README for them. A message reworded in the code (or a quote edited in the README)
leaves that reader looking for a line that never comes. Each case names the README's quote,
as it reads with its line breaks folded (`…` and `...` stand for any text, as in the README),
and produces the message with real parts: the `analytics` CLI in a subprocess on a real
warehouse, real TOML files, the dashboard over ASGI, `run_report` on the real file.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from analytics.dashboard import dashboard
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from cookiewall import Category, CookieRule, Policy
from tests.support import NOBODY, ROOT, as_nobody
from tests.warehouse_support import events_for_days, write_events

README = " ".join((ROOT / "README.md").read_text().split())
DAY = date(2026, 11, 1)


def _folded(text: str) -> str:
    return " ".join(text.split())


def assert_says(quote: str, message: str) -> None:
    """The README still quotes `quote`, and `message` says it (`…`/`...`: any text)."""
    assert quote in README, f"the README no longer quotes: {quote}"
    pattern = re.escape(quote).replace("…", ".*?").replace(r"\.\.\.", ".*?")
    assert re.search(pattern, _folded(message)), f"README: {quote}\nprogram: {message}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with `var/spool` and `var/analytics.duckdb` (two sites, 2026-11-01 … 02), the
    layout the README's examples name, a data file and a named pipe in a spool of its own."""
    root = tmp_path_factory.mktemp("site")
    events = events_for_days(random.Random(7), [DAY, date(2026, 11, 2)], per_day=30)
    write_events(root / "var" / "spool", events)
    Warehouse(root / "var" / "analytics.duckdb").run(root / "var" / "spool")
    segment = next((root / "var" / "spool").glob("day=*/*.parquet"))
    shutil.copy(segment, root / "segment.parquet")
    (root / "piped" / "day=2026-11-01").mkdir(parents=True)
    os.mkfifo(root / "piped" / "day=2026-11-01" / "x.parquet")
    return root


def _cli(cwd: Path, *args: str, stdout: str = "pipe") -> subprocess.CompletedProcess[str]:
    """`python -m analytics ARGS` in `cwd`; stdout a pipe, closed (`>&-`) or `/dev/full`."""
    argv = [sys.executable, "-m", "analytics", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if stdout == "closed":
        # `>&-`: the child starts with no file descriptor 1 at all.
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", *argv]
    with open("/dev/full", "w") if stdout == "full" else open(os.devnull) as full:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdout=full if stdout == "full" else subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )


DB = ("--db", "var/analytics.duckdb")

# (case, README quote, CLI arguments, stdout, exit status)
CLI_LINES: list[tuple[str, str, tuple[str, ...], str, int]] = [
    (
        "empty-site",
        "analytics: error: site must not be empty (leave it out to add up all sites)",
        ("report", "referrers", *DB, "--site", ""),
        "pipe",
        2,
    ),
    (
        "unknown-site",
        "analytics: WARNING: no data for site 'exmaple.com' in this database; its sites:"
        " 'example.com', 'shop.example'",
        (
            "report",
            "referrers",
            *DB,
            "--site",
            "exmaple.com",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
            "--format",
            "json",
        ),
        "pipe",
        0,
    ),
    (
        "stdout-closed",
        "standard output is closed; give --output FILE",
        ("report", "referrers", *DB, "--from", "2026-11-01", "--to", "2026-11-02"),
        "closed",
        2,
    ),
    (
        "stdout-full",
        "cannot write to standard output: No space left on device",
        ("report", "referrers", *DB, "--from", "2026-11-01", "--to", "2026-11-02"),
        "full",
        2,
    ),
    (
        "db-is-a-parquet-file",
        "'….parquet' is not a DuckDB database but a data file …; check --db",
        ("report", "referrers", "--db", "segment.parquet"),
        "pipe",
        2,
    ),
    (
        "export-db-is-a-parquet-file",
        "'….parquet' is not a DuckDB database but a data file …; check --db",
        (
            "export",
            "--db",
            "segment.parquet",
            "--table",
            "events",
            "--format",
            "csv",
            "--output",
            "-",
        ),
        "pipe",
        2,
    ),
    (
        "named-pipe-in-the-spool",
        "skipped day=…/x.parquet: not a regular file (a named pipe), so not a segment",
        ("rollup", "--spool", "piped", "--db", "piped.duckdb"),
        "pipe",
        0,
    ),
    (
        "tilde-taken-literally",
        "spool folder '~/spool' does not exist",
        ("rollup", "--spool=~/spool", "--db", "tilde.duckdb"),
        "pipe",
        2,
    ),
]


@pytest.mark.parametrize(
    ("quote", "args", "stdout", "status"),
    [case[1:] for case in CLI_LINES],
    ids=[case[0] for case in CLI_LINES],
)
def test_the_cli_says_what_the_readme_quotes(
    site: Path, quote: str, args: tuple[str, ...], stdout: str, status: int
) -> None:
    done = _cli(site, *args, stdout=stdout)
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    assert_says(quote, done.stderr)


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A folder user 65534 may enter (tmp_path is private to root) with `var/analytics.duckdb`
    and a spool that user may read."""
    if os.geteuid() != 0:
        pytest.skip("needs root: only root can run the CLI as a user permissions apply to")
    root = Path(tempfile.mkdtemp(prefix="cw-readme-quotes-"))
    root.chmod(0o755)
    var = root / "var"
    write_events(var / "spool", events_for_days(random.Random(3), [DAY], per_day=20))
    Warehouse(var / "analytics.duckdb").run(var / "spool")
    for path in [var, *var.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def _as_nobody(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command, env = as_nobody([sys.executable, "-m", "analytics", *args])
    return subprocess.run(command, capture_output=True, text=True, cwd=root, env=env, timeout=120)


def test_a_read_only_warehouse_is_refused_in_the_readmes_words(shared_root: Path) -> None:
    # Root owns the file and 65534 may only read it.
    done = _as_nobody(shared_root, "rollup", "--spool", "var/spool", *DB)
    assert done.returncode == 2, done.stderr
    assert_says(
        "database 'var/analytics.duckdb' is read-only for this user (reading it, as reports and"
        " exports do, still works)",
        done.stderr,
    )


def test_a_folder_without_room_for_the_journal_is_refused_in_the_readmes_words(
    shared_root: Path,
) -> None:
    db = shared_root / "var" / "analytics.duckdb"
    os.chown(db, NOBODY, NOBODY)  # the file is the user's; its folder is not
    done = _as_nobody(shared_root, "rollup", "--spool", "var/spool", *DB)
    assert done.returncode == 2, done.stderr
    assert_says(
        "cannot write in 'var', the database's folder: DuckDB keeps its journal"
        " (analytics.duckdb.wal) beside the database",
        done.stderr,
    )


def _toml(body: bytes) -> Callable[[], object]:
    def load() -> object:
        Path("cookiewall.toml").write_bytes(body)
        return Policy.from_toml("cookiewall.toml")

    return load


_CATEGORIES = b'version = "2026-11-28"\n[[categories]]\nname = "necessary"\nrequired = true\n'
_NOT_UTF8 = b'version = "2026-11-28"\n# Gr' + b"u" * 13 + b"\xfc\n"
assert _NOT_UTF8.index(b"\xfc") == 40  # the offset the README quotes

# (case, README quote, what raises the ValueError)
POLICY_LINES: list[tuple[str, str, Callable[[], object]]] = [
    (
        "unknown-category",
        "cookiewall.toml: cookie rule '_ga' names unknown category 'analytic' (known: analytics,"
        " necessary)",
        _toml(
            _CATEGORIES
            + b'[[categories]]\nname = "analytics"\n'
            + b'[[cookies]]\npattern = "_ga"\ncategory = "analytic"\n'
        ),
    ),
    (
        "unknown-key",
        "cookiewall.toml: [[categories]] has unknown keys: gpc_optout (allowed: name,"
        " description, required, gpc_opt_out, consent_mode); did you mean gpc_opt_out?",
        _toml(_CATEGORIES + b'[[categories]]\nname = "marketing"\ngpc_optout = true\n'),
    ),
    (
        "unknown-top-level-key",
        "cookiewall.toml: unknown policy keys: consent_max_age (allowed: version,"
        " accepts_versions, consent_max_age_days, unknown_cookies, gpc_last_update, texts,"
        " categories, cookies); did you mean consent_max_age_days?",
        _toml(b"consent_max_age = 30\n" + _CATEGORIES),
    ),
    (
        "not-utf8",
        "cookiewall.toml: not UTF-8 (TOML files are UTF-8): byte 0xfc at offset 40",
        _toml(_NOT_UTF8),
    ),
    (
        "byte-order-mark",
        "cookiewall.toml: starts with a UTF-8 byte-order mark, which TOML does not allow: save"
        " the file as UTF-8 without BOM",
        _toml(b"\xef\xbb\xbf" + _CATEGORIES),
    ),
    (
        "covered-pattern",
        "cookie rule 'ad_*_id' can never match: the earlier pattern '*_id' matches every name"
        " it could ...",
        lambda: Policy(
            version="1",
            categories=[Category("necessary", required=True), Category("marketing")],
            cookies=[CookieRule("*_id", "necessary"), CookieRule("ad_*_id", "marketing")],
        ),
    ),
]


@pytest.mark.parametrize(
    ("quote", "make"),
    [case[1:] for case in POLICY_LINES],
    ids=[case[0] for case in POLICY_LINES],
)
def test_a_bad_policy_is_refused_in_the_readmes_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quote: str, make: Callable[[], object]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"\S") as refused:  # the wording: assert_says
        make()
    assert "\n" not in str(refused.value)  # one line
    assert_says(quote, str(refused.value))


def test_a_start_after_yesterday_is_refused_in_the_readmes_words(site: Path) -> None:
    query = ReportQuery(kind="referrers", start="2026-11-28", today=date(2026, 11, 28))
    with pytest.raises(ReportError) as refused:
        run_report(site / "var" / "analytics.duckdb", query)
    assert_says(
        "start 2026-11-28 is after end 2026-11-27 (no end given: yesterday, the last complete day)",
        str(refused.value),
    )


def test_the_dashboard_api_refuses_a_bad_grain_in_the_readmes_words(site: Path) -> None:
    token = "readme-quote-token-0123456789"
    app = dashboard(site / "var" / "analytics.duckdb", token=token)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(
                "/api/timeseries?grain=hour", headers={"Authorization": f"Bearer {token}"}
            )

    answer = asyncio.run(ask())
    assert answer.status_code == 400
    assert_says("grain must be one of day, week, month, not 'hour'", answer.json()["error"])
