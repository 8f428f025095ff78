"""The README read by a careful new user: every number and name it states about the code (option
defaults, limits, cache sizes, endpoint answers, CLI flags and exit codes, table columns, file
paths, section links) is checked against the code, so that the two cannot drift apart.

The README's Python snippets are run by `test_readme_snippets.py`; this module checks its facts.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
import re
import shlex
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from analytics import Recorder, Warehouse
from analytics.dashboard import dashboard
from analytics.dashboard.app import SECURITY_HEADERS
from analytics.export import export_table
from analytics.render.svg import line_chart, sparkline
from analytics.reports import run_report
from cookiewall import ConsentMiddleware, ReceiptLog
from tests.dashboard_support import TOKEN, build_warehouse
from tests.support import ROOT

README = (ROOT / "README.md").read_text()
# One line per paragraph is not guaranteed: phrases are searched in whitespace-collapsed text.
FLAT = " ".join(README.split())


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("walkthrough"), per_day=5)


# --- the dashboard: "every answer X-Frame-Options: DENY, ... Cache-Control: no-store" ----------


def _request(app: Any, method: str, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.request(method, path, headers={"authorization": f"Bearer {TOKEN}"})

    return asyncio.run(call())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/analytics/", 200),
        ("GET", "/analytics/api/sites", 200),
        ("GET", "/analytics/no-such-page", 404),
        ("GET", "/analytics/api/no-such-endpoint", 404),
        ("POST", "/analytics/api/sites", 405),
        ("DELETE", "/analytics/", 405),
    ],
)
def test_every_dashboard_answer_carries_the_security_headers_when_mounted_in_starlette(
    warehouse: Path, method: str, path: str, status: int
) -> None:
    """README, *Live dashboard*: "every answer `X-Frame-Options: DENY`, `Referrer-Policy:
    no-referrer` and `Cache-Control: no-store`". Mounted the README's way (a Starlette app's
    `Mount`), Starlette's router raised its 404/405 to the host app, which answered them
    without any of the dashboard's headers."""
    assert "every answer `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`" in FLAT
    host = Starlette(routes=[Mount("/analytics", app=dashboard(warehouse, token=TOKEN))])
    response = _request(host, method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS:
        assert response.headers.get(name.decode()) == value.decode(), name


# --- README parsing -----------------------------------------------------------------------------


def section(*titles: str) -> str:
    """The text under the heading path `titles` (each searched after the previous one), up
    to the next heading of the same or a higher level."""
    start = 0
    level = 0
    for title in titles:
        for line_start, line in _headings(README, start):
            hashes, text = line.split(" ", 1)
            if text.strip() == title:
                start, level = line_start + len(line), len(hashes)
                break
        else:
            raise AssertionError(f"no heading {title!r} after offset {start}")
    for line_start, line in _headings(README, start):
        if len(line.split(" ", 1)[0]) <= level:
            return README[start:line_start]
    return README[start:]


def _headings(text: str, start: int) -> list[tuple[int, str]]:
    found, offset, fenced = [], 0, False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and offset >= start and line.startswith("#"):
            found.append((offset, line.rstrip("\n")))
        offset += len(line)
    return found


def table(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in `text`, cells stripped."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) > 2, "no table"
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def code_names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# --- option tables and signatures ---------------------------------------------------------------

# Defaults the README gives in words: (the README's cell, what the recorder does without one).
DESCRIBED_DEFAULTS: dict[str, str] = {
    "clock": "`datetime.now(UTC)`",
    "salt_dir": "`<spool_dir>/salts`",
}


def _literal(cell: str) -> object:
    return ast.literal_eval(cell.strip("`"))


@pytest.mark.parametrize(
    ("headings", "target"),
    [
        (("The consent gate (`cookiewall`)", "Options"), ConsentMiddleware.__init__),
        (("Recording traffic", "Options"), Recorder.__init__),
    ],
    ids=["ConsentMiddleware", "Recorder"],
)
def test_option_table_lists_every_parameter_with_its_default(
    headings: tuple[str, ...], target: Any
) -> None:
    parameters = {
        name: parameter.default
        for name, parameter in inspect.signature(target).parameters.items()
        # `policy` has a section of its own (*The policy*), not a row
        if name not in ("self", "app", "policy")
    }
    documented = {name: row[1] for row in table(section(*headings)) for name in code_names(row[0])}
    assert sorted(documented) == sorted(parameters)
    for name, cell in documented.items():
        default = parameters[name]
        if cell == "—":
            assert default is inspect.Parameter.empty, name
        elif name in DESCRIBED_DEFAULTS:
            assert (cell, default) == (DESCRIBED_DEFAULTS[name], None), name
        else:
            value = _literal(cell)
            assert (type(value), value) == (type(default), default), name


def test_the_recorders_described_defaults_do_what_the_table_says(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com")
    try:
        assert recorder.salts.salt_dir == tmp_path / "spool" / "salts"
        now = recorder.clock()
        assert now.utcoffset() == timedelta(0)
        assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    finally:
        recorder.close()


def _signature_in_readme(text: str) -> dict[str, object]:
    """`name(a, b, *, c=1, d=None)` as the README writes it: {parameter: default or ...}."""
    arguments = text.split("(", 1)[1].rsplit(")", 1)[0]
    arguments = arguments.replace("10 MiB", str(10 * 2**20)).replace("…", "...")
    tree = ast.parse(f"def f({arguments}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    args = tree.args
    names: dict[str, object] = {}
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    for index, arg in enumerate(positional):
        default = args.defaults[index - first_default] if index >= first_default else None
        names[arg.arg] = (
            ast.literal_eval(default) if default is not None else inspect.Parameter.empty
        )
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        names[arg.arg] = (
            ast.literal_eval(kw_default) if kw_default is not None else inspect.Parameter.empty
        )
    return names


SIGNATURES: list[tuple[str, Any]] = [
    ("ReceiptLog(path, max_bytes=10 MiB, backups=5, keep_for=None)", ReceiptLog),
    (
        "analytics.Warehouse(path, *, timezone=None, raw_retention_days=90, clock=None, "
        "archive=None, create=True, lock_timeout=10.0)",
        Warehouse,
    ),
    ("run_report(db, query, lock_timeout=10)", run_report),
    ("analytics.spark.spark_rollup(spool, output_dir, master=…, timezone=…)", "spark_rollup"),
    ('line_chart(series, labels, title=…, empty_label="no data")', line_chart),
    ("sparkline(values)", sparkline),
    ("analytics.export.export_table(db, table, fmt, output)", export_table),
    ("`prune(raw_days=None, *, before_commit=None)`", Warehouse.prune),
    ("`run(spool, *, progress=False, before_commit=None)`", Warehouse.run),
]


@pytest.mark.parametrize(("written", "target"), SIGNATURES, ids=[s[0][:30] for s in SIGNATURES])
def test_signatures_the_readme_writes_out_match_the_code(written: str, target: Any) -> None:
    assert written.strip("`") in FLAT
    if target == "spark_rollup":
        from analytics import spark  # imports pyspark lazily: cheap without a session

        target = spark.spark_rollup
    actual = [p for p in inspect.signature(target).parameters.values() if p.name != "self"]
    by_name = {p.name: p for p in actual}
    required = [p for p in actual if p.default is inspect.Parameter.empty]
    for index, (name, default) in enumerate(_signature_in_readme(written.strip("`")).items()):
        if default is inspect.Parameter.empty:
            # A required argument: the README may name it freely (db for db_path), in order.
            assert index < len(required), f"{name} is not a required argument"
            continue
        assert name in by_name, name
        if default is not Ellipsis:
            assert by_name[name].default == default, name


@pytest.mark.parametrize(
    ("phrase", "name", "value"),
    [
        ("`min_visitors=None`", "min_visitors", None),
        ('`title="cookiewall analytics"`', "title", "cookiewall analytics"),
        ("`timezone=None`", "timezone", None),
    ],
)
def test_dashboard_options_and_defaults(phrase: str, name: str, value: object) -> None:
    options = section("Live dashboard and JSON API").split("\nOptions: ", 1)[1].split("\n\n")[0]
    assert phrase in options
    assert inspect.signature(dashboard).parameters[name].default == value
    for keyword in ("token", "basic", "authorize"):
        assert f"`{keyword}`" in options
        assert keyword in inspect.signature(dashboard).parameters


# --- limits, sizes and counts stated in the prose -----------------------------------------------


def _stated_numbers() -> list[tuple[str, Any]]:
    from analytics import paths, recorder, referrers, reports, spool, useragents, visitors
    from analytics.dashboard import app as dashboard_app
    from analytics.dashboard import params, snapshot
    from analytics.event import SCHEMA_VERSION
    from analytics.objectstore import SegmentUploader
    from cookiewall import consent, decisions, endpoints, policy

    uploader = inspect.signature(SegmentUploader).parameters
    return [
        # the consent gate
        ("Verified cookies are cached (4096 entries", lambda: consent.CACHE_SIZE == 4096),
        ("kept (at most 64 root paths)", lambda: endpoints.MAX_SITES == 64),
        ("Bodies are capped at 64 KiB (413)", lambda: decisions.MAX_BODY == 64 * 1024),
        (
            "default 180, at most 395",
            lambda: (policy.DEFAULT_CONSENT_AGE.days, policy.MAX_CONSENT_AGE.days) == (180, 395),
        ),
        # recording
        (
            "also flushes early at half of `max_buffer`, at most 10 000 events",
            lambda: recorder.EARLY_FLUSH_EVENTS == 10_000,
        ),
        ("at least every second (`CONVERT_INTERVAL`", lambda: recorder.CONVERT_INTERVAL == 1.0),
        ("headers over 4 kB", lambda: referrers.MAX_REFERRER_LENGTH == 4096),
        ("paths are cut at 512 characters", lambda: paths.MAX_PATH_LENGTH == 512),
        ("`User-Agent` strings (4 096)", lambda: useragents.CACHE_SIZE == 4096),
        ("path redaction (8 192)", lambda: paths.CACHE_SIZE == 8192),
        ("caches paths up to 1 kB", lambda: paths.MAX_CACHED_PATH_LENGTH == 1024),
        ("keys on the first 512 characters", lambda: useragents.MAX_USER_AGENT_LENGTH == 512),
        ("crawlerdetect reads the first 256", lambda: useragents.CRAWLER_SCAN_LENGTH == 256),
        ("The salt is 16 random bytes", lambda: visitors.SALT_BYTES == 16),
        ("truncated to 64 bits", lambda: visitors.DIGEST_BYTES * 8 == 64),
        ("(currently `1`)", lambda: SCHEMA_VERSION == "1"),
        ("removed once older than an hour", lambda: spool.STALE_TEMP_SECONDS == 3600),
        # reports
        ("the last 28 complete days", lambda: reports.DEFAULT_DAYS == 28),
        ("`--top N` (default 10)", lambda: reports.DEFAULT_TOP == 10),
        (
            "The minimum volume is 5 or 0.1 % of all external pageviews",
            lambda: (reports.MIN_TREND_VOLUME, reports.MIN_TREND_SHARE) == (5, 0.001),
        ),
        ("line chart of the top six rows", lambda: reports.CHART_SERIES == 6),
        ("a cell longer than 60 columns is cut", lambda: _table_cell_limit() == 60),
        # dashboard
        ("| `limit` | `10` | rows per breakdown, 1 to 500 |", lambda: _limits() == (10, 500)),
        ("at most 1000 buckets of the grain", lambda: params.MAX_BUCKETS == 1000),
        ("scripts (>= 16 characters)", lambda: dashboard_app.MIN_TOKEN_LENGTH == 16),
        ("one wait of at most 1.5 s", lambda: snapshot.FIRST_LOAD_WAIT == 1.5),
        ("tries again a second later", lambda: snapshot.RETRY_PAUSE == 1.0),
        # object storage
        ("up to `max_backoff` (300 s)", lambda: uploader["max_backoff"].default == 300.0),
        ("Failed passes wait 1 s, 2 s, 4 s", lambda: uploader["initial_backoff"].default == 1.0),
    ]


def _table_cell_limit() -> int:
    from analytics.render import table as table_format

    return table_format.MAX_CELL


def _limits() -> tuple[int, int]:
    from analytics.dashboard import params

    return params.DEFAULT_LIMIT, params.MAX_LIMIT


STATED = _stated_numbers()


@pytest.mark.parametrize(("phrase", "holds"), STATED, ids=[p[:40] for p, _ in STATED])
def test_numbers_stated_in_the_prose_are_the_codes(phrase: str, holds: Any) -> None:
    assert phrase in FLAT
    assert holds()


# --- the analytics CLI --------------------------------------------------------------------------


def _code_blocks() -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


def readme_cli_lines() -> list[str]:
    """Every `analytics <command> …` line in the README's code blocks, continuation lines
    joined, without the shell around it (`cd … &&`, `>> log 2>&1`, a trailing comment)."""
    lines = []
    for block in _code_blocks():
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            found = re.search(r"(?:^|[\s/$])analytics ((?:rollup|report|export|prune)\b.*)", line)
            # the scale-out diagram and `… --db FILE` comments illustrate, they are no commands
            # (and the synopsis, `[--site S]`, has a test of its own)
            if found and not any(mark in found.group(1) for mark in ("…", "(", "[--")):
                command = found.group(1).split(">>", 1)[0].split("#", 1)[0]
                lines.append(" ".join(command.split()))
    return lines


CLI_LINES = readme_cli_lines()


def test_the_readme_shows_every_cli_command() -> None:
    assert {line.split()[0] for line in CLI_LINES} == {"rollup", "report", "export", "prune"}


@pytest.mark.parametrize("line", CLI_LINES)
def test_every_cli_line_in_the_readme_parses(line: str) -> None:
    from analytics.cli import build_parser

    args = build_parser().parse_args(shlex.split(line))
    assert args.command == line.split()[0]


def _parser_flags(command: str) -> dict[str, argparse.Action]:
    from analytics.cli import build_parser

    sub = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    parser = sub.choices[command]
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_the_report_synopsis_names_the_report_commands_flags_and_choices() -> None:
    synopsis = section("Reports").split("```", 2)[1]
    flags = _parser_flags("report")
    named = set(re.findall(r"--[a-z-]+", synopsis))
    assert named == set(flags) - {"-h", "--help"}
    assert "[--grain day|week|month]" in synopsis
    assert tuple(flags["--grain"].choices or ()) == ("day", "week", "month")
    from analytics.cli import KINDS, REPORT_FORMATS

    assert "[--format table|csv|json|html]" in synopsis
    assert REPORT_FORMATS == ("table", "csv", "json", "html")
    kinds_table = [code_names(row[0])[0] for row in table(section("Reports", "Kinds"))]
    assert tuple(kinds_table) == KINDS


def test_every_cli_flag_the_readme_names_exists() -> None:
    known = set()
    for command in ("rollup", "report", "export", "prune"):
        known |= set(_parser_flags(command))
    # Flags of the servers the README runs it under, read from each one's own --help.
    others = set()
    for server in ("uvicorn", "hypercorn", "granian"):
        shown = subprocess.run(
            [sys.executable, "-m", server, "--help"], capture_output=True, text=True, check=True
        ).stdout
        others |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", shown))
    # ... and of the benchmarks (`python -m bench --only instructions`), from its --help
    shown = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    others |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", shown))
    from gunicorn.config import KNOWN_SETTINGS

    others |= {flag for setting in KNOWN_SETTINGS for flag in setting.cli or () if "--" in flag}
    assert {"--proxy-headers", "--timeout-graceful-shutdown", "--preload"} <= others
    others |= {"--packages", "--strict", "--config-settings"}  # spark-submit, mypy, pip
    # The abbreviation README shows refused (tests/test_cli_options_never_abbreviated.py).
    assert "--fro" not in known
    others |= {"--fro"}
    # CSS custom properties the README names: each must be one the banner's files use
    css_properties = {"--cookiewall-height"}
    static = ROOT / "cookiewall" / "static"
    for prop in css_properties:
        assert prop in (static / "banner.css").read_text(), prop
        assert prop in (static / "banner.js").read_text(), prop
    others |= css_properties
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", README))
    assert named - known - others == set()


@pytest.mark.parametrize(
    ("command", "flag", "phrase", "default"),
    [
        ("rollup", "--wait", "waits up to `--wait` seconds (10)", 10.0),
        ("rollup", "--raw-days", "older than the retention (90 days by default)", 90),
        ("rollup", "--master", "--output var/rollups # local[2]", "local[2]"),
        ("report", "--top", "`--top N` (default 10)", 10),
        ("report", "--format", "`--format table|csv|json|html`", "table"),
        ("report", "--grain", "`grain` | `day`", "day"),
    ],
)
def test_cli_defaults_the_readme_states(
    command: str, flag: str, phrase: str, default: object
) -> None:
    if phrase.startswith("`--format"):
        phrase = "[--format table|csv|json|html]"  # the synopsis; table is what it prints
        assert "The CLI" in README
    assert phrase in FLAT
    actual = _parser_flags(command)[flag].default
    if actual is None:
        # A default applied after parsing (whether the option was given at all matters):
        # the CLI names it DEFAULT_<FLAG>.
        from analytics import cli

        actual = getattr(cli, "DEFAULT_" + flag.lstrip("-").replace("-", "_").upper())
    assert actual == default


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from analytics.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# "Every error (...) is one line on stderr, `analytics: error: …`, with exit code 2"
CLI_ERRORS: list[tuple[str, str]] = [
    ("missing database", "report pages --db {tmp}/none.duckdb"),
    (
        "missing database (export)",
        "export --db {tmp}/none.duckdb --table events --format csv --output {tmp}/x.csv",
    ),
    ("missing database (prune)", "prune --db {tmp}/none.duckdb --raw-days 3"),
    ("missing spool folder", "rollup --spool {tmp}/no-spool --db {tmp}/new.duckdb"),
    ("bad date", "report pages --db {db} --from 2026-13-01"),
    ("unknown kind", "report visits --db {db}"),
    ("unknown table", "export --db {db} --table visits --format csv --output {tmp}/x.csv"),
    ("unknown format", "report pages --db {db} --format xml"),
    ("unknown export format", "export --db {db} --table events --format xml --output {tmp}/x"),
    ("unwritable output", "report pages --db {db} --output {tmp}/no/such/x.txt"),
    ("--output is the --db", "report pages --db {db} --output {db}"),
    ("--output is the --db (export)", "export --db {db} --table events --format csv --output {db}"),
    ("empty --spool", 'rollup --spool "" --db {tmp}/new.duckdb'),
    ("empty --archive", 'rollup --spool {tmp} --archive "" --db {tmp}/new.duckdb'),
]


@pytest.mark.parametrize(("what", "argv"), CLI_ERRORS, ids=[what for what, _ in CLI_ERRORS])
def test_cli_errors_are_one_line_and_exit_2_and_create_nothing(
    what: str, argv: str, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = warehouse.stat().st_mtime_ns
    args = [arg.format(db=warehouse, tmp=tmp_path) for arg in shlex.split(argv)]
    code, out, err = _run_cli(args, capsys)
    assert code == 2, (what, err)
    assert err.startswith("analytics: error: "), err
    assert err.count("\n") == 1, err
    assert out == ""
    assert not (tmp_path / "none.duckdb").exists()  # `report`, `export`, `prune` never create
    assert not (tmp_path / "new.duckdb").exists()
    assert warehouse.stat().st_mtime_ns == before


def test_an_empty_spool_is_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spool").mkdir()
    argv = ["rollup", "--spool", f"{tmp_path}/spool", "--db", f"{tmp_path}/a.duckdb"]
    code, out, err = _run_cli(argv, capsys)
    assert (code, err) == (0, "")
    assert "nothing to do" in out
    assert "(`nothing to do`)" in FLAT


def test_rollup_refuses_a_duckdb_file_that_is_not_a_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    foreign = tmp_path / "other.duckdb"
    with duckdb.connect(str(foreign)) as connection:
        connection.execute("CREATE TABLE invoices AS SELECT 1 AS id")
    (tmp_path / "spool").mkdir()
    code, _, err = _run_cli(
        ["rollup", "--spool", f"{tmp_path}/spool", "--db", str(foreign)], capsys
    )
    assert code == 2, err
    with duckdb.connect(str(foreign), read_only=True) as connection:
        tables = connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("invoices",)]
    assert "`rollup` refuses a DuckDB file that already holds tables" in FLAT


def test_a_busy_database_exits_1_with_one_line(warehouse: Path, tmp_path: Path) -> None:
    """README: a second `rollup` waits up to `--wait` seconds, then exits with code 1."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"c = duckdb.connect({str(warehouse)!r})\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        (tmp_path / "spool").mkdir()
        rollup = f"rollup --spool {tmp_path / 'spool'} --db {warehouse} --wait 0".split()
        done = subprocess.run(
            [sys.executable, "-m", "analytics", *rollup],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        holder.communicate(timeout=30)  # closes its stdin (it exits) and its stdout
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("analytics: error: ")
    assert done.stderr.count("\n") == 1
    assert "then each exits with code 1 and one line" in FLAT


# --- tables, columns and value sets -------------------------------------------------------------


def test_the_spool_format_table_is_the_event_schema() -> None:
    from analytics.event import EVENT_SCHEMA

    arrow_names = {"string": "string", "int32": "int32", "int64": "int64", "bool": "boolean"}
    rows = table(
        section(
            "At scale: many app servers, object storage, Spark", "The spool format, for any engine"
        )
    )
    documented: dict[str, tuple[str, bool]] = {}
    for column_cell, type_cell, null_cell in rows:
        for name in code_names(column_cell):
            documented[name] = (type_cell, null_cell == "yes")
    assert list(documented) == EVENT_SCHEMA.names
    for field in EVENT_SCHEMA:
        type_cell, nullable = documented[field.name]
        assert nullable == field.nullable, field.name
        if field.name == "ts":
            assert type_cell.startswith(f"`{field.type}`".replace("tz=UTC", "tz=UTC"))
        else:
            assert type_cell.split(":")[0].split(" ")[0].strip("`") == arrow_names[str(field.type)]


@pytest.mark.parametrize(
    ("column", "values_name"),
    [("referrer_medium", "MEDIUMS"), ("device", "DEVICES"), ("consent", "CONSENT_STATES")],
)
def test_value_sets_stated_for_a_column_are_the_codes(column: str, values_name: str) -> None:
    import analytics.event

    values = getattr(analytics.event, values_name)
    rows = table(
        section(
            "At scale: many app servers, object storage, Spark", "The spool format, for any engine"
        )
    )
    type_cell = next(row[1] for row in rows if f"`{column}`" in row[0])
    assert type_cell == "string: " + ", ".join(values)
    # the same list, in the prose of *What is recorded*
    recorded = " ".join(section("Recording traffic", "What is recorded").split())
    assert "(" + ", ".join(f"`{value}`" for value in values) + ")" in recorded


def test_the_analysts_table_lists_every_warehouse_table_and_column(warehouse: Path) -> None:
    import duckdb

    from analytics.event import EVENT_FIELDS

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        actual = {
            table_name: [
                row[0]
                for row in connection.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = ? ORDER BY ordinal_position",
                    [table_name],
                ).fetchall()
            ]
            for (table_name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_name = 'events' OR table_name LIKE 'daily\\_%' ESCAPE '\\'"
            ).fetchall()
        }
    assert {"events", "daily_totals", "daily_referrer_domains"} <= set(actual)
    rows = table(section("The warehouse", "For analysts"))
    assert sorted(code_names(row[0])[0] for row in rows) == sorted(actual)
    for table_cell, grain_cell, columns_cell in rows:
        name = code_names(table_cell)[0]
        if name == "events":
            assert code_names(columns_cell) == [*EVENT_FIELDS, "day"]
            assert actual[name] == [*EVENT_FIELDS, "day"]
            continue
        keys = [key.strip() for key in grain_cell.split(",")]
        measures = [m for m in code_names(columns_cell) if m not in ("direct", "internal")]
        assert actual[name] == keys + measures, name


def test_the_trino_table_declares_every_spool_column() -> None:
    from analytics.event import EVENT_FIELDS

    ddl = next(
        line for line in README.splitlines() if line.startswith("CREATE TABLE hive.web.spool")
    )
    columns = re.findall(r"[(,] ?(\w+) [a-z]", ddl.split(" WITH ", 1)[0])
    assert columns == [*EVENT_FIELDS, "day"]


def test_the_report_kinds_table_names_each_reports_columns(warehouse: Path) -> None:
    from analytics.reports import ReportQuery

    for kind_cell, _, columns_cell in table(section("Reports", "Kinds")):
        kind = code_names(kind_cell)[0]
        report = run_report(warehouse, ReportQuery(kind=kind, today=date(2026, 5, 1)))
        assert list(report.columns) == code_names(columns_cell), kind


def test_the_endpoints_table_is_what_the_gate_serves() -> None:
    """Every path in *Endpoints* answers as the row says (status, and the few headers named)."""
    from cookiewall import Policy

    policy = Policy.from_toml(ROOT / "examples" / "cookiewall.toml")
    app = ConsentMiddleware(
        _html_app, policy=policy, secret_key="walkthrough-key-0123456789", inject_banner=True
    )
    rows = table(section("The consent gate (`cookiewall`)", "Endpoints"))
    routes = [code_names(row[0])[0] for row in rows]
    assert routes == [
        "GET /consent",
        "POST /consent",
        "DELETE /consent",
        "GET /consent/banner?next=/page",
        "GET /consent/cookies",
        "GET /consent/static/banner.css",
        "GET /consent/consent-mode.js",
        "GET /.well-known/gpc.json",
    ]

    from_page = {"origin": "http://testserver"}  # what a browser sends with the site's forms

    async def walk() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get("/")
            static = re.findall(r'"(/consent/static/banner\.(?:css|js)\?v=\w+)"', page.text)
            return {
                "GET /consent": await http.get("/consent"),
                "POST form": await http.post(
                    "/consent", data={"action": "reject_all", "next": "/a"}, headers=from_page
                ),
                "POST form off-site": await http.post(
                    "/consent",
                    data={"action": "reject_all", "next": "//evil.example"},
                    headers=from_page,
                ),
                "POST json": await http.post("/consent", json={"action": "accept_all"}),
                "DELETE /consent": await http.delete("/consent"),
                "banner": await http.get("/consent/banner?next=/page"),
                "cookies": await http.get("/consent/cookies"),
                "cookies html": await http.get("/consent/cookies?format=html"),
                "css": await http.get(static[0]),
                "js": await http.get(static[1]),
                "consent-mode.js": await http.get("/consent/consent-mode.js"),
                "gpc": await http.get("/.well-known/gpc.json"),
            }

    answers = asyncio.run(walk())
    state = answers["GET /consent"].json()
    assert set(state) == {
        "decided",
        "granted",
        "policy_version",
        "gpc",
        "summary",
        "categories",
        "consent_mode",
    }
    assert (answers["POST form"].status_code, answers["POST form"].headers["location"]) == (
        303,
        "/a",
    )
    assert answers["POST form off-site"].headers["location"] == "/"
    assert answers["POST json"].status_code == 200
    assert answers["POST json"].json()["summary"] == "all"
    assert answers["DELETE /consent"].json()["decided"] is False
    assert answers["banner"].text.lstrip().startswith("<section")
    assert "undeclared" in answers["cookies"].json()
    assert "<table" in answers["cookies html"].text
    for name in ("css", "js"):
        assert "max-age=31536000" in answers[name].headers["cache-control"]
    script = answers["consent-mode.js"]
    assert 'gtag("consent", "default"' in script.text
    assert "private" in script.headers["cache-control"]
    assert "no-store" in script.headers["cache-control"]
    assert script.headers["vary"] == "Cookie, Sec-GPC, DNT, Sec-Fetch-Site"
    assert set(answers["gpc"].json()) == {"gpc", "lastUpdate"}
    assert answers["gpc"].json()["gpc"] is True


async def _html_app(scope: Any, receive: Any, send: Any) -> None:
    body = b"<html><body>page</body></html>"
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(
    ("what", "request_kwargs", "status"),
    [
        (
            "cross-site Origin",
            {"json": {"action": "accept_all"}, "headers": {"origin": "https://evil.example"}},
            403,
        ),
        ("Origin: null", {"json": {"action": "accept_all"}, "headers": {"origin": "null"}}, 403),
        (
            "Sec-Fetch-Site: cross-site",
            {"json": {"action": "accept_all"}, "headers": {"sec-fetch-site": "cross-site"}},
            403,
        ),
        (
            "foreign Referer, no Origin",
            {"json": {"action": "accept_all"}, "headers": {"referer": "https://evil.example/"}},
            403,
        ),
        ("neither Origin nor Referer", {"json": {"action": "accept_all"}}, 200),
        ("a form with neither", {"data": {"action": "accept_all"}}, 403),
        (
            "body over 64 KiB",
            {
                "content": b'{"action": "' + b"a" * 65536 + b'"}',
                "headers": {"content-type": "application/json"},
            },
            413,
        ),
        ("bad JSON", {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
        ("wrong type", {"json": {"action": 1}}, 400),
        ("unknown action", {"json": {"action": "accept_some"}}, 400),
        ("unknown category", {"json": {"action": "save", "categories": ["cats"]}}, 400),
        (
            "other content type",
            {"content": b"action=accept_all", "headers": {"content-type": "text/plain"}},
            415,
        ),
    ],
)
def test_the_consent_endpoints_refuse_as_the_readme_says(
    what: str, request_kwargs: dict[str, Any], status: int
) -> None:
    from cookiewall import Policy

    policy = Policy.from_toml(ROOT / "examples" / "cookiewall.toml")
    app = ConsentMiddleware(_html_app, policy=policy, secret_key="walkthrough-key-0123456789")

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post("/consent", **request_kwargs)

    response = asyncio.run(post())
    assert response.status_code == status, what
    if status != 200:
        assert "set-cookie" not in response.headers  # "change nothing"
        assert set(response.json()) == {"error"}


# --- links and paths ----------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


HEADINGS = [line for _, line in _headings(README, 0)]


def test_every_contents_link_points_to_a_heading() -> None:
    anchors = re.findall(r"\]\(#([^)]+)\)", README)
    assert len(anchors) >= 9
    slugs = {_slug(line) for line in HEADINGS}
    assert set(anchors) <= slugs, set(anchors) - slugs


def test_every_see_reference_names_a_heading() -> None:
    titles = [line.lstrip("#").strip() for line in HEADINGS]
    references = re.findall(r"see \*([^*]+)\*", FLAT)
    assert references
    for reference in references:
        parts = [part.strip() for part in reference.split("→")]
        for part in parts:
            # a heading, or the start of one ("At scale" for "At scale: many app servers, …")
            assert any(title == part or title.startswith(part + ":") for title in titles), part
        if len(parts) == 2:
            section(parts[0], parts[1])  # the second is under the first


def _named_paths() -> set[str]:
    roots = r"(?:analytics|cookiewall|tests|bench|fuzz|examples|scripts|\.ci)/"
    found = set(re.findall(rf"`({roots}[^`\s]*)`", README))
    found |= set(re.findall(rf"(?<![\w/.-])({roots}[\w./-]+\.\w+)", "\n".join(_code_blocks())))
    return found


@pytest.mark.parametrize("path", sorted(_named_paths()))
def test_every_file_and_folder_the_readme_names_exists(path: str) -> None:
    from analytics.tables import ROLLUP_TABLES

    if "<table>" in path:
        for name in ROLLUP_TABLES:
            assert (ROOT / path.replace("<table>", name)).is_file(), name
        return
    if path == "bench/out/latest.md":
        assert "(`bench/out/latest.md`)" in FLAT  # written by `make bench`, not in the repo
        return
    assert (ROOT / path).exists()


def test_the_test_modules_the_reliability_section_names_exist() -> None:
    names = set(re.findall(r"`(test_\w+\.py)`", README))
    assert names
    for name in names:
        assert (ROOT / "tests" / name).is_file(), name


def test_the_security_module_has_the_stated_number_of_cases() -> None:
    stated = int(re.search(r"`tests/test_security\.py`, (\d+) cases", FLAT).group(1))  # type: ignore[union-attr]
    assert stated == _collected("tests/test_security.py")


def _collected(*paths: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    found = re.search(r"(\d+) tests? collected", done.stdout)
    assert found, done.stdout[-2000:]
    return int(found.group(1))


# --- README sentences the walkthrough found wrong, now corrected --------------------------------
# Each asserts the corrected wording and the behaviour behind it.


def test_the_cli_error_list_states_the_real_date_bounds(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "pages", "--db", str(warehouse)]
    code, _, err = _run_cli([*base, "--from", "1899-12-01", "--to", "1899-12-31"], capsys)
    assert code == 2
    assert "out of bounds" in err
    code, _, err = _run_cli([*base, "--from", "9000-12-01", "--to", "9001-01-31"], capsys)
    assert code == 2
    assert "out of bounds" in err
    code, _, _ = _run_cli([*base, "--from", "1900-01-01", "--to", "1900-01-31"], capsys)
    assert code == 0
    errors = " ".join(section("The warehouse", "The CLI").split())
    assert "a date range reaching before year 1" not in errors
    assert "1900" in errors
    assert "9000" in errors


def test_the_development_section_states_the_suites_size() -> None:
    stated = re.search(r"\(≈ ([\d ]+) tests", FLAT)
    assert stated
    count = int(stated.group(1).replace(" ", ""))
    assert abs(_collected() - count) <= 0.15 * count


def test_the_one_writer_bullet_does_not_promise_report_and_export_a_wait_flag() -> None:
    assert "--wait" not in _parser_flags("report")
    assert "--wait" not in _parser_flags("export")
    assert inspect.signature(run_report).parameters["lock_timeout"].default == 10.0
    bullet = " ".join(
        section("The warehouse").split("**One writer.**", 1)[1].split("\n\n")[0].split()
    )
    assert "and so do `report` and `export`" not in bullet


def test_the_load_section_states_each_runs_connections() -> None:
    from tests.test_load import BOUNDED, SOAK

    load = " ".join(section("Reliability", "Load held").split())
    stated = {int(n) for n in re.findall(r"(\d+) connections", load)}
    assert stated == {BOUNDED.concurrency, SOAK.concurrency}


def test_the_cli_block_runs_top_to_bottom_on_a_fresh_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer pastes *The CLI*'s lines one after another into a site's folder."""
    import random

    from tests.warehouse_support import events_for_days, write_events

    today = datetime.now(UTC).date()
    days = [today - timedelta(days=back) for back in range(1, 40)]
    write_events(tmp_path / "var" / "spool", events_for_days(random.Random(5), days, 20))
    monkeypatch.chdir(tmp_path)
    block = section("The warehouse", "The CLI").split("```", 2)[1]
    lines = [line for line in block.strip().splitlines() if line.startswith("analytics ")]
    assert len(lines) == 7
    for line in lines:
        code, _, err = _run_cli(shlex.split(line)[1:], capsys)
        assert code == 0, (line, err)
