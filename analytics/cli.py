"""`python -m analytics` / `analytics`: a thin shell over the warehouse and the reports.

Each command opens, makes one library call, and turns the library's own exception into one
line on stderr (`analytics: error: ...`) and a non-zero exit: 2 for bad input (arguments,
missing files, corrupt data, a warehouse of a newer cookiewall), 1 when the database is busy
(try again later). A rollup that committed exits 0, or 3, 4 or 5 when it left work undone.
The writing commands print one summary line, or nothing with --quiet (cron mails any
output); warnings and errors reach stderr either way.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import logging
import os
import re
import secrets
import select
import signal
import socket
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from analytics.errors import AnalyticsError, Interrupted, WarehouseLockedError
from analytics.extras import missing_extra_module, missing_modules, needs_extra
from analytics.report_kinds import KINDS as KINDS  # re-exported: tests and callers read it here
from analytics.wording import counted

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

PROG = "analytics"
EXIT_USAGE = 2
EXIT_BUSY = 1
# The run committed, but --archive/--delete-ingested could not dispose of some ingested
# segments: not 0, or cron never learns that the spool now grows; not 1 or 2, which mean
# nothing was committed.
EXIT_NOT_DISPOSED = 3
# The run committed, but left segments of a newer event schema in the spool (a rolling deploy
# whose web workers run a newer cookiewall than cron): they wait, unread, for an upgraded
# rollup. Not 0, or the spool grows unseen; 3 wins when both happened.
EXIT_NEWER_SEGMENTS = 4
# A rollup or prune committed, deleting raw events, but the file could not be compacted
# afterwards (no room for the copy, busy): the pruned events' bytes stay readable in it until
# a later run or `analytics compact` succeeds. 3 and 4 win when they happened too.
EXIT_NOT_COMPACTED = 5
# Like Python's own advice for a closed pipe: exit 1, quietly (a shell says 141 for SIGPIPE).
EXIT_PIPE_CLOSED = 1
EXIT_INTERRUPTED = 130  # what a shell reports for a command that SIGINT ended
REPORT_FORMATS = ("table", "csv", "json", "html")
STDOUT = "-"  # as an --output: standard output
# Names of this process's stdout that --output takes as "-": opened anew, a file that stdout
# was redirected to (`>> log`) would be truncated and written from its start.
STDOUT_NAMES = frozenset({STDOUT, "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})
# A report being written (dot-prefixed: hidden, and skipped by web servers' listings).
TEMP_REPORT_PREFIX = ".tmp-report-"
STDOUT_CLOSED = "standard output is closed; give --output FILE"
# DuckDB's words for a block whose checksum fails ("... computed checksum ... does not match"):
# analytics.database.DAMAGED_BLOCK, which loads DuckDB.
DAMAGED_BLOCK = "Corrupt database file"
# As analytics.reports.ISO_DAY, which loads DuckDB; [0-9]: \d matches other scripts' digits.
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
RELAY_CHUNK = 1 << 20  # bytes per read when copying an export to stdout
# rollup's defaults (whether an option was given at all matters too: see _NoteGiven).
DEFAULT_RAW_DAYS = 90
DEFAULT_WAIT = 10.0
DEFAULT_MASTER = "local[2]"


class UsageError(Exception):
    """A bad command line: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    # Set by main() for each command line: stdout was closed when the process started (it
    # now points at /dev/null, see _open_closed_standard_streams).
    stdout_closed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations (`--fro` for `--from`), for the command and every subcommand
        # (allow_abbrev is per parser; add_parser passes its keywords here): a cron line
        # holding one would mean another option, or fail, once an option sharing the
        # prefix is added.
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)
        # The command's parsers by name (the top-level parser's own), filled by build_parser.
        self.subcommands: dict[str, _Parser] = {}

    def parse_command_line(self, argv: Sequence[str]) -> argparse.Namespace:
        """`parse_args`, with what it gets wrong for a command line of subcommands said by
        the subcommand's parser: an option nobody knows before a missing required one
        (`export --tab events` was told "--table is required"), as unknown and not
        abbreviated (`--fro` was `--from`), and stray words pointing at that command's
        --help (`report summary summary` pointed at 'analytics --help')."""
        self._refuse_unknown_options(argv)
        args, extras = self.parse_known_args(argv)
        if extras:
            self.subcommands.get(args.command, self).error(
                f"unrecognized arguments: {' '.join(extras)}"
            )
        return args

    def _refuse_unknown_options(self, argv: Sequence[str]) -> None:
        parser = self
        for word in argv:
            if word == "--":
                return  # the rest is positional
            # What argparse takes for an option: `--name` or `--name=value`, no space (a
            # word holding a space is a value). Single-dash ones are left to argparse.
            if not word.startswith("--") or " " in word:
                if parser is self and not word.startswith("-"):
                    # The first word is the command, whose options follow; an unknown one
                    # is argparse's to name ("invalid choice").
                    if word not in self.subcommands:
                        return
                    parser = self.subcommands[word]
                continue
            name = word.split("=", 1)[0]
            known = parser._option_string_actions
            if name in known:
                continue
            if name == "--":
                # `--=x`: no name at all, which every option starts with; a "did you mean"
                # listing them all would only hide the typo (named whole: '--' says nothing).
                parser.error(f"unrecognized option {word!r}")
            meant = sorted(option for option in known if option.startswith(name))
            hint = f": options are never abbreviated; did you mean {' or '.join(meant)}?"
            parser.error(f"unrecognized option {name!r}{hint if meant else ''}")

    # argparse prints the whole usage block before the message; one line is kinder to cron
    # mail and log scrapers, and `--help` is one flag away.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # What --help, --version and a usage line print. argparse drops a failed write in
        # silence: `analytics --help > /dev/full` exited 0 with nothing written. Flushed
        # here, so that stdout's failure is said (one line, exit 2) as a report's is, and
        # a closed pipe exits 1 quietly, as `report ... | head` does.
        if not message:
            return
        stream = file or sys.stderr
        if stream is sys.stdout and _Parser.stdout_closed:
            # --help or --version with stdout closed: said, as a report's closed stdout is,
            # not written to /dev/null with exit 0.
            raise UsageError("standard output is closed")
        try:
            stream.write(message)
            flush = getattr(stream, "flush", None)
            if flush is not None:
                flush()
        except BrokenPipeError:
            if stream is sys.stdout:
                raise
        except OSError as exc:
            if stream is sys.stdout:
                raise _stdout_failed(exc) from None
            # A stderr that cannot be written has no one to tell.


def _iso_date(text: str) -> date:
    # fromisoformat alone also reads '2026-W08' (that week's Monday: a range in weeks would
    # lose the last six days of its last week) and '20260222'.
    try:
        if not ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: use YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _not_empty(text: str) -> str:
    # Path("") is "." (the current folder): an unset shell variable must not mean that.
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name")
    return text


def _output_file(text: str) -> Path:
    # Path("") is "." too: said "cannot write '.': it is a folder", of a name never given.
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name")
    return Path(text)


def _duckdb_file(text: str) -> Path:
    """A --db: a path DuckDB can be handed. It takes UTF-8 names only, and crashed on any
    other (`RuntimeError: std::bad_cast`, a traceback from every command)."""
    from analytics.database import is_utf8_name

    if not is_utf8_name(text):
        # A name arrives with lone surrogates when its bytes do not decode in Python's file
        # system encoding: not UTF-8 at all, or UTF-8 read as ASCII (LC_ALL=C, PYTHONUTF8=0).
        encoding = sys.getfilesystemencoding()
        try:
            os.fsencode(text).decode("utf-8")
        except UnicodeDecodeError:
            reason = "is not UTF-8, and DuckDB opens UTF-8 paths only: rename it"
        else:
            reason = (
                f"cannot be handed to DuckDB: this Python reads file names as {encoding} "
                "(a C or POSIX locale with PYTHONUTF8=0); set LANG=C.UTF-8 or PYTHONUTF8=1"
            )
        raise argparse.ArgumentTypeError(f"{text!r} {reason}") from None
    return Path(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value != value:  # NaN, which float() takes: no comparison holds, "negative" misled
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


class _NoteGiven(argparse.Action):
    """Store the value and add the option's dest to `given`: an option that only one engine
    uses is an error when given to the other, even with its default value."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = frozenset({*getattr(namespace, "given", ()), self.dest})


def build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Cookieless traffic analytics: ingest the spool, roll up, report, export.",
        epilog="example:\n  analytics rollup --spool var/spool --db var/analytics.duckdb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"{PROG} (cookiewall) {cookiewall_version()}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    parser.subcommands = commands.choices

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    rollup = command(
        "rollup",
        "Ingest new spool segments, recompute the changed days, prune old raw events "
        "(one transaction; run it from cron).",
        "analytics rollup --spool var/spool --db var/analytics.duckdb --archive var/archive",
    )
    # Metavars as README writes them (N, DIR, FILE): --help and README must read alike.
    rollup.add_argument(
        "--spool",
        required=True,
        type=_not_empty,
        metavar="DIR",
        help="the spool folder, or s3://bucket/prefix (object storage)",
    )
    rollup.add_argument(
        "--db",
        type=_duckdb_file,
        metavar="FILE",
        help="the DuckDB file (created); with --engine spark: load the output",
    )
    rollup.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the rollup runs (duckdb)",
    )
    rollup.add_argument("--output", metavar="DIR", help="spark: where the rollup Parquet goes")
    rollup.add_argument(
        "--master",
        default=DEFAULT_MASTER,
        action=_NoteGiven,
        metavar="URL",
        help=f"spark: master URL ({DEFAULT_MASTER})",
    )
    rollup.add_argument(
        "--timezone",
        default=None,
        metavar="ZONE",
        help="IANA time zone of the day boundaries (default: the database's, UTC when new)",
    )
    rollup.add_argument(
        "--raw-days",
        type=_positive_int,
        default=DEFAULT_RAW_DAYS,
        action=_NoteGiven,
        metavar="N",
        help="delete raw events older than N days (today and the N days before are kept; "
        f"default {DEFAULT_RAW_DAYS})",
    )
    disposal = rollup.add_mutually_exclusive_group()
    disposal.add_argument(
        # Text, not a Path: a URL (refused) keeps its spelling, "s3://", for the message.
        "--archive",
        type=_not_empty,
        metavar="DIR",
        help="move ingested segments to DIR",
    )
    disposal.add_argument("--delete-ingested", action="store_true", help="delete ingested segments")
    rollup.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT,
        action=_NoteGiven,
        metavar="SECONDS",
        help=f"how long to wait for another run holding the database ({DEFAULT_WAIT:g})",
    )
    rollup.add_argument(
        "--salt-dir",
        type=_not_empty,
        metavar="DIR",
        help="the recorders' salt folder, whose expired salts are deleted "
        "(default: <spool>/salts; none for an object-store spool)",
    )
    _no_compact_option(rollup)
    _quiet_option(rollup)
    rollup.set_defaults(handler=_rollup, given=frozenset())

    report = command(
        "report",
        "Print a report from the rollups (never reads raw events, never creates a database).",
        "analytics report referrers --db var/analytics.duckdb --from 2026-11-01 "
        "--to 2026-11-28 --grain week --compare --format html --output referrers.html",
    )
    report.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    report.add_argument(
        "--db", required=True, type=_duckdb_file, metavar="FILE", help="the DuckDB file"
    )
    report.add_argument("--site", metavar="S", help="only this site (default: all, added up)")
    report.add_argument(
        "--from",
        dest="start",
        type=_iso_date,
        metavar="DATE",
        help="first day, YYYY-MM-DD (default: 28 days ending with --to)",
    )
    report.add_argument(
        "--to",
        dest="end",
        type=_iso_date,
        metavar="DATE",
        help="last day, YYYY-MM-DD (default: yesterday, the last complete day)",
    )
    report.add_argument(
        "--grain",
        choices=("day", "week", "month"),
        default="day",
        help="size of the time buckets (day)",
    )
    report.add_argument(
        "--top", type=_positive_int, default=10, metavar="N", help="rows to show (10)"
    )
    report.add_argument(
        "--compare", action="store_true", help="add the previous period and the change"
    )
    report.add_argument(
        "--min-visitors",
        type=_positive_int,
        metavar="K",
        help="fold rows with fewer than K visitors into one '(other)' row",
    )
    report.add_argument(
        "--format",
        default="table",
        metavar="{" + ",".join(REPORT_FORMATS) + "}",
        help="how to write it (table)",
    )
    report.add_argument(
        "--output", type=_output_file, metavar="FILE", help="write here, not stdout (- is stdout)"
    )
    report.set_defaults(handler=_report)

    export = command(
        "export",
        "Write a warehouse table (events or a daily_* rollup) as Parquet or CSV.",
        "analytics export --db var/analytics.duckdb --table daily_referrers "
        "--format parquet --output referrers.parquet",
    )
    export.add_argument(
        "--db", required=True, type=_duckdb_file, metavar="FILE", help="the DuckDB file"
    )
    export.add_argument("--table", required=True, metavar="TABLE", help="events or a daily_* table")
    export.add_argument("--format", required=True, metavar="{parquet,csv}", help="the file format")
    export.add_argument(
        "--output", required=True, type=_output_file, metavar="FILE", help="a file, or - for stdout"
    )
    _quiet_option(export)
    export.set_defaults(handler=_export)

    prune = command(
        "prune",
        "Delete raw events older than N days (rollups stay).",
        "analytics prune --db var/analytics.duckdb --raw-days 30",
    )
    prune.add_argument(
        "--db", required=True, type=_duckdb_file, metavar="FILE", help="the DuckDB file"
    )
    prune.add_argument(
        "--raw-days",
        required=True,
        type=_positive_int,
        metavar="N",
        help="delete raw events older than N days (today and the N days before are kept)",
    )
    _wait_option(prune)
    _no_compact_option(prune)
    _quiet_option(prune)
    prune.set_defaults(handler=_prune)

    compact = command(
        "compact",
        "Rewrite the DuckDB file so that deleted rows (pruned raw events) leave no bytes in it.",
        "analytics compact --db var/analytics.duckdb",
    )
    compact.add_argument(
        "--db", required=True, type=_duckdb_file, metavar="FILE", help="the DuckDB file"
    )
    _wait_option(compact)
    _quiet_option(compact)
    compact.set_defaults(handler=_compact)
    return parser


def _wait_option(command: argparse.ArgumentParser) -> None:
    # prune's and compact's: cron runs them beside rollup, which waits as long by default.
    command.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for another run holding the database ({DEFAULT_WAIT:g})",
    )


def _no_compact_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-compact",
        action="store_true",
        help="after deleting raw events, leave their bytes in the file until DuckDB reuses "
        "the space (default: rewrite the file, as `analytics compact` does)",
    )


def _quiet_option(command: argparse.ArgumentParser) -> None:
    # Cron mails whatever a job prints: a rollup every ten minutes without a `>> log` made
    # 144 mails a day of "ingested …". Warnings and errors are not silenced: a run that
    # needs attention (exit 1-4, a quarantined segment) still says why on stderr.
    command.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print no summary line and no progress bar (for cron); "
        "warnings and errors still go to stderr",
    )


def _ignored_by_engine(args: argparse.Namespace) -> str | None:
    """Why an option given to `rollup` would do nothing with the chosen engine, or None."""
    if args.engine == "spark":
        duckdb_only = {
            "--delete-ingested": (args.delete_ingested, "Spark leaves the spool's segments"),
            "--archive": (args.archive is not None, "Spark leaves the spool's segments"),
            "--raw-days": ("raw_days" in args.given, "Spark keeps no raw events"),
            "--wait": ("wait" in args.given, "Spark takes no lock on a database"),
            "--no-compact": (args.no_compact, "Spark keeps no raw events"),
        }
        for flag, (given, why) in duckdb_only.items():
            if given:
                return f"{flag} is for --engine duckdb: {why}"
        return None
    if args.output is not None:
        return "--output is for --engine spark: the DuckDB rollup writes --db"
    if "master" in args.given:
        return "--master is for --engine spark"
    return None


def _rollup(args: argparse.Namespace) -> int:
    from analytics.database import check_writable
    from analytics.objectstore import default_staging_folder, is_remote, stage_for_warehouse
    from analytics.spool import misplaced_spool
    from analytics.warehouse import Warehouse, archive_problem

    # An option the engine ignores would pass in silence: `--engine spark
    # --delete-ingested` in cron, and the spool grows for good.
    ignored = _ignored_by_engine(args)
    if ignored is not None:
        raise UsageError(ignored)
    # Parsed once, before anything uses it: the salts were looked for in a folder of their
    # own parsing, which took `file://localhost/abs` for the relative `localhost/abs` (and
    # never deleted an expired salt, exit 0).
    local = _local_spool(args.spool)
    salts = _salt_folder(args, local)
    if args.engine == "spark":
        return _spark_rollup(args, salts)
    if args.db is None:
        raise UsageError("rollup needs --db FILE (or --engine spark --output DIR)")
    # Checked and listed below (_check_disposal too) by the path, not the URL.
    args.spool = local
    spool = args.spool
    remote = is_remote(spool)
    if not remote:
        _check_spool_found(spool)
        mistake = misplaced_spool(spool)
        if mistake is not None:
            raise UsageError(mistake)
    if args.archive is not None:
        _check_archive(args.archive, None if remote else spool)
        if remote:
            # stage_for_warehouse's default staging folder, whose staged files are removed
            # once in the ledger: an archive there would be emptied by the next run.
            staging = default_staging_folder(args.db)
            if archive_problem(args.archive, staging) is not None:
                raise UsageError(
                    f"--archive {args.archive!r} is the staging folder of the remote "
                    "spool: staged segments are removed once ingested; give another folder"
                )
    _check_disposal(args, remote=remote)

    archive = "delete" if args.delete_ingested else args.archive
    warehouse = Warehouse(
        args.db,
        timezone=args.timezone,
        raw_retention_days=args.raw_days,
        archive=archive,
        lock_timeout=args.wait,
    )
    if remote:
        # Before downloading anything beside it (<db>.staging/), for nothing.
        check_writable(args.db)
        spool = stage_for_warehouse(
            spool, args.db, lock_timeout=args.wait, progress=_progress(args)
        )
    stops: _Stops = args.stops
    result = warehouse.run(spool, progress=_progress(args), before_commit=stops.commit_begins)
    # After the run: a run that fails says its one line alone (the next run deletes them).
    salts_deleted = _delete_expired_salts(salts)
    ingest = result.ingest
    done = ingest.segments or ingest.quarantined or result.rolled_up or result.pruned_events
    # Copies skipped are news too: recorded in the ledger (and archived), each said once; so
    # is a segment archived beside another file of its name (a warning names it).
    news = (
        ingest.unreadable
        or ingest.undisposed
        or ingest.duplicates
        or ingest.archived_renamed
        or ingest.newer_schema
        or ingest.not_moved
    )
    summary = result.summary() if done or news else "nothing to do: no new segments"
    _say_done(summary + _salts_clause(salts_deleted), quiet=args.quiet)
    compacted = 0
    if result.pruned_events and not args.no_compact:
        # After the commit, never inside it: a compaction that cannot run must not undo the
        # rollup, and it copies the committed file.
        # A stop signal from the commit on is noted, not obeyed (see _Stops): the
        # compaction, seconds at most, finishes too, and the warning below says so.
        compacted = _compact_after_prune(
            args.db, quiet=args.quiet, lock_timeout=args.wait, stops=stops
        )
    if stops.first is not None:
        # Before COMMIT it would have stopped the run (nothing committed, exit 128 + N).
        logging.getLogger("analytics").warning(
            "%s came after the run was committed: the run was finished, not rolled back",
            signal.Signals(stops.first).name,
        )
    if ingest.undisposed:
        return EXIT_NOT_DISPOSED
    return EXIT_NEWER_SEGMENTS if ingest.newer_schema else compacted


def _salt_folder(args: argparse.Namespace, spool: str) -> Path | None:
    """Where the recorders of this spool keep their daily salts: --salt-dir, else
    `<spool>/salts` (the Recorder's default) for a local spool (`spool`: --spool as
    `_local_spool` reads it), None for object storage (its salts live on the web servers).
    An unusable --salt-dir is refused before any work."""
    from analytics.database import file_on_the_way

    given: str | None = args.salt_dir
    if given is None:
        return None if "://" in spool else Path(spool) / "salts"
    if "://" in given:
        raise UsageError(f"--salt-dir {given!r} must be a local folder: salts never leave it")
    if os.path.exists(given) and not os.path.isdir(given):
        raise UsageError(f"--salt-dir {given!r} is a file, not a folder")
    blocker = file_on_the_way(given)
    if blocker is not None:
        raise UsageError(f"--salt-dir {given!r}: {blocker}")
    try:
        os.stat(given)
    except FileNotFoundError:  # a link to nothing too; one it may not look in warns later
        # Said, where the default folder's absence is not: a new site's recorders make
        # theirs with the first salt, but a folder named on purpose that is missing is most
        # often a typo, and then the real salts outlive their 48 h (SPEC 4.1) with cron
        # saying nothing. A warning, not a refusal: before that first salt, it is right.
        logging.getLogger("analytics").warning(
            "--salt-dir %r does not exist: no expired salts are deleted (check that it "
            "names the recorders' salt_dir; they make it with their first salt)",
            given,
        )
    except OSError:
        pass  # may not look (permissions): the deletion's own warning says so
    return Path(given)


def _delete_expired_salts(folder: Path | None) -> list[date]:
    """Delete the salts in `folder` older than yesterday's (UTC, the real date), as a running
    Recorder does: when no recorder runs (a site stopped or retired), cron's rollup still
    keeps every salt under 48 h (SPEC 4.1). The folder is never made; a missing one has
    nothing to delete. A failure is a warning: the warehouse's work is committed by then."""
    from analytics.visitors import SaltStore

    if folder is None:
        return []
    try:
        return SaltStore(folder).delete_expired(datetime.now(UTC).date())
    except OSError as exc:
        logging.getLogger("analytics").warning(
            "cannot delete expired salts in %r: %s", str(folder), exc.strerror or exc
        )
        return []


def _salts_clause(deleted: list[date]) -> str:
    if not deleted:
        return ""
    days = ", ".join(day.isoformat() for day in sorted(deleted))
    return f"; deleted {counted(len(deleted), 'expired salt')} ({days})"


def _compact_after_prune(db: Path, *, quiet: bool, lock_timeout: float, stops: _Stops) -> int:
    """Compact `db` after a committed prune that deleted raw events, so that their bytes do
    not stay in the file (and every copy of it) until DuckDB happens to reuse the space.
    The prune stays committed whatever happens here: a compaction that cannot run (no room
    for the copy, the file busy, a second hard link) is one warning and exit 5, and the next
    run that prunes rows compacts again (the bytes of both prunes go then)."""
    from analytics.compact import compact
    from analytics.errors import WarehouseError

    try:
        result = compact(db, lock_timeout=lock_timeout, before_rename=stops.commit_begins)
        _say_done(result.summary(), quiet=quiet)
    except (WarehouseError, OSError) as exc:  # OSError: a folder it cannot read, say
        reason = str(exc) if isinstance(exc, WarehouseError) else (exc.strerror or str(exc))
        if DAMAGED_BLOCK in reason:
            # A block whose checksum fails (one the prune did not read): every compaction
            # copies it and fails the same way, so "until compact succeeds" would be never.
            advice = (
                "the file is damaged, and no compaction can copy it: restore it from a "
                "backup and prune again (the pruned raw events stay readable in this file)"
            )
        else:
            advice = (
                "the pruned raw events stay readable in the file until `analytics compact` succeeds"
            )
        logging.getLogger("analytics").warning("%s; %s", reason, advice)
        return EXIT_NOT_COMPACTED
    return 0


def _compact(args: argparse.Namespace) -> int:
    from analytics.compact import compact
    from analytics.errors import WarehouseError

    _check_database_found(args.db)
    stops: _Stops = args.stops
    try:
        result = compact(args.db, lock_timeout=args.wait, before_rename=stops.commit_begins)
    except WarehouseError:
        if stops.during_commit is not None:
            # Noted just before a rename that was then refused: nothing was replaced, so the
            # signal is obeyed, as one during the copy is (a COMMIT's failure is said: main).
            raise _Stopped(stops.during_commit) from None
        raise
    _say_done(result.summary(), quiet=args.quiet)
    _warn_stopped_after_rename(stops)
    return 0


def _warn_stopped_after_rename(stops: _Stops) -> None:
    """A stop signal after compact's rename (its commit point) is noted, not obeyed: the
    file is compacted, and the lock must be held out (see HOLD_AFTER_RENAME)."""
    if stops.first is not None:
        logging.getLogger("analytics").warning(
            "%s came after the compacted file was renamed into place: the compaction was "
            "finished, not stopped",
            signal.Signals(stops.first).name,
        )


def _local_spool(spool: str) -> str:
    """The folder a local --spool names, the one parser of its spellings: `file:///abs/path`,
    `file://localhost/abs/path` and Hadoop's `file:/abs/path` are /abs/path, the scheme and
    the host in any case (`FILE://LOCALHOST/…`, RFC 3986 3.1 and 3.2.2). Before, the DuckDB
    rollup took the URL for a relative folder and said "does not exist". A plain path, a
    folder whose own name starts with `file:` (`file:rel`, no `/` after the colon) and any
    other URL (`s3://…`) are themselves. A file: URL of another host is refused."""
    scheme, colon, path = spool.partition(":")
    if not colon or scheme.lower() != "file":
        return spool
    if path.startswith("//"):
        host, slash, rest = path.removeprefix("//").partition("/")
        if host.lower() not in ("", "localhost"):
            raise UsageError(
                f"--spool {spool!r} names a folder on another machine; give a local folder's path"
            )
        path = slash + rest
    return path if path.startswith("/") else spool


def _check_spool_found(spool: str) -> None:
    """Refuse a local --spool that is a file, or has a file where a folder of its path should
    be, naming that file: the library's "does not exist or is not a folder" left the user
    to find out which."""
    from analytics.database import file_on_the_way

    if os.path.isfile(spool):
        raise UsageError(f"spool folder {spool!r} is a file, not a folder")
    blocker = file_on_the_way(spool)
    if blocker is not None:
        raise UsageError(f"cannot open spool folder {spool!r}: {blocker}")


def _check_archive(archive: str, spool: str | None) -> None:
    """Refuse, before any work, an --archive that cannot take the ingested segments (a URL,
    the spool itself): `Warehouse.run` would refuse it too, in the library's words."""
    from analytics.warehouse import archive_problem

    problem = archive_problem(archive, spool)
    if problem is not None:
        raise UsageError(f"--archive {problem}")


def _check_disposal(args: argparse.Namespace, *, remote: bool) -> None:
    """Refuse, before any work (and before a remote spool is downloaded), an --archive or
    --delete-ingested this user cannot carry out: an archive it cannot write (read-only, a
    file in its path), or a day folder of a local spool it may not remove segments from.
    The run would commit and then leave every ingested segment in the spool (exit 3) on
    every run. `Warehouse.run` makes the same check (`disposal_problem`) on its listing."""
    from analytics.database import check_writable
    from analytics.spool import list_segments
    from analytics.warehouse import disposal_problem

    archive = "delete" if args.delete_ingested else args.archive
    if archive is None:
        return
    # A remote spool's segments are removed from its staging folder, beside --db. Listed
    # again by the run, which warns of what it skips (a folder or pipe named *.parquet):
    # not here too, or each is said twice.
    segments = [] if remote else list_segments(args.spool, warn=False)
    problem = disposal_problem(archive, segments, archive_named="--archive")
    if problem is not None:
        check_writable(args.db)  # a database it may not write is said first, as ever
        raise UsageError(problem)


def _spark_rollup(args: argparse.Namespace, salts: Path | None) -> int:
    from analytics.spark import SparkRollupError, load_spark_rollups, spark_rollup

    if args.output is None:
        raise UsageError("--engine spark needs --output DIR")
    with _py4j_interrupts_unlogged():
        try:
            counts = spark_rollup(
                args.spool, args.output, master=args.master, timezone=args.timezone
            )
        except Exception as error:
            if not _py4j_network_error(error):
                raise
            raise SparkRollupError(SPARK_DRIVER_STOPPED) from None
    if args.db is not None:
        load_spark_rollups(args.output, args.db)
    salts_deleted = _delete_expired_salts(salts)
    summary = "spark rollup: " + ", ".join(
        f"{table} {counted(rows, 'row')}" for table, rows in counts.items()
    )
    if counts.newer_schema:
        # As the DuckDB rollup says it: committed, but the spool keeps what it could not read.
        summary += (
            f"; left {counted(len(counts.newer_schema), 'segment')} "
            "of a newer event schema in the spool "
            "(upgrade cookiewall to count them)"
        )
    if counts.not_segments:
        files = counted(
            len(counts.not_segments),
            "file that is not a segment (a warehouse export)",
            "files that are not segments (warehouse exports)",
        )
        summary += f"; left {files} in the spool, unread"
    _say_done(summary + _salts_clause(salts_deleted), quiet=args.quiet)
    return EXIT_NEWER_SEGMENTS if counts.newer_schema else 0


SPARK_DRIVER_STOPPED = "the Spark driver stopped: out of memory or killed?"


def _py4j_network_error(error: BaseException) -> bool:
    """Whether `error` is py4j finding the driver JVM gone: a JVM that ran out of memory or
    was killed outside a job surfaces as py4j's Py4JNetworkError ("Answer from Java side is
    empty") or as the ConnectionRefusedError of its next connection, each a traceback and
    exit 1 before, with nothing naming the cause (the FATAL-only log4j profile hides the
    JVM's own lines)."""
    protocol = sys.modules.get("py4j.protocol")  # loaded by any run that reached the JVM
    if protocol is not None and isinstance(error, protocol.Py4JNetworkError):
        return True
    if not isinstance(error, ConnectionRefusedError):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return any(Path(frame.filename).parent.name == "py4j" for frame in frames)


def _report(args: argparse.Namespace) -> int:
    # Imported here so that rollup/export/prune never pay for (or depend on) the renderers.
    from analytics.export import database_part
    from analytics.render import FORMATS_WITH_NOTES, render
    from analytics.reports import ReportQuery, run_report

    if args.kind not in KINDS:
        raise UsageError(f"unknown report kind {args.kind!r}; choose one of: {', '.join(KINDS)}")
    if args.format not in REPORT_FORMATS:
        raise UsageError(
            f"unknown format {args.format!r}; choose one of: {', '.join(REPORT_FORMATS)}"
        )
    _check_database_found(args.db)
    if args.output is not None and str(args.output) in STDOUT_NAMES:
        args.output = None
    if args.output is None and args.stdout_closed:
        raise UsageError(STDOUT_CLOSED)
    part = None if args.output is None else database_part(args.output, args.db)
    if part is not None:
        raise UsageError(f"output {str(args.output)!r} is {part}; choose another file")
    if args.output is not None:
        _check_output_folder(args.output)
    query = ReportQuery(
        kind=args.kind,
        site=args.site,
        start=args.start,
        end=args.end,
        grain=args.grain,
        top=args.top,
        compare=args.compare,
        min_visitors=args.min_visitors,
    )
    report = run_report(args.db, query)
    # A table on stdout is escaped for the terminal's encoding as it is rendered, so that
    # its columns are measured on what is printed; a file is UTF-8.
    shown_in = (sys.stdout.encoding or "utf-8") if args.output is None else None
    # On a terminal, visitor text must not drive it (`/%1B]0;pwned%07`): every format is
    # escaped there, as `ls` does; a file or a pipe gets the exact text.
    on_terminal = _is_terminal(args.output)
    text = render(report, args.format, terminal_encoding=shown_in, terminal=on_terminal)
    _write_output(text, args.output, terminal=args.format == "table" or on_terminal)
    # After the report is written, not before: a report that could not be written ends in
    # its one error line alone (a warning about rows nobody got would come first and read
    # as the failure), and on a terminal the warning is the last line above the prompt
    # instead of scrolled away above a long table. The written report holds it as a note.
    for warning in report.warnings:
        # Not through the logging handler: a warning about the command line, said once.
        print(f"{PROG}: WARNING: {_printable(' '.join(warning.split()))}", file=sys.stderr)
    if args.format not in FORMATS_WITH_NOTES:
        # Facts about the data, not errors: a table or HTML page holds them as notes (and
        # a daily cron job would mail them every day); CSV and JSON have no place for them.
        for caveat in report.caveats:
            print(f"{PROG}: note: {_printable(' '.join(caveat.split()))}", file=sys.stderr)
    return 0


def _is_terminal(output: Path | None) -> bool:
    """Whether a report or export goes to a terminal: stdout (None) that is one, or an
    --output naming one (`/dev/tty`, `/dev/pts/3`)."""
    if output is None:
        try:
            return sys.stdout.isatty()
        except (OSError, ValueError):  # a closed or detached stdout
            return False
    try:
        if not stat.S_ISCHR(os.stat(output).st_mode):
            return False  # a file, a folder, a named pipe (whose open would wait for a reader)
        fd = os.open(output, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _write_stdout(text: str, *, terminal: bool) -> None:
    """Write to stdout: csv/json/html as the same UTF-8 bytes `--output` writes (the HTML
    says charset=utf-8; `> file` must not depend on the locale); a table, or anything on a
    terminal, in the terminal's own encoding, with what it cannot show escaped (`\u4f8b`)
    rather than a crash."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (an embedding program's StringIO)
        sys.stdout.write(text)
        return
    encoding = (sys.stdout.encoding or "utf-8") if terminal else "utf-8"
    data = text.encode(encoding, errors="backslashreplace")
    try:
        sys.stdout.flush()
        try:
            fd = sys.stdout.fileno()
        except (OSError, ValueError):  # a stream without a descriptor (a test's capture)
            buffer.write(data)
        else:
            # Past Python's buffer, which on a non-blocking stdout drops what does not fit.
            _write_all(fd, data)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _stdout_failed(exc) from None


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`; on a stdout its parent made non-blocking, a full pipe or
    socket means waiting for room, not an error."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def _write_output(text: str, output: Path | None, *, terminal: bool = False) -> None:
    if output is None:
        _write_stdout(text if text.endswith("\n") else text + "\n", terminal=terminal)
        return
    try:
        _replace_file(output, text.encode("utf-8"))
    except BrokenPipeError:
        raise  # a named pipe whose reader left: quiet, like stdout
    except OSError as exc:
        raise UsageError(f"cannot write {str(output)!r}: {exc.strerror or exc}") from None


def _check_output_folder(output: Path) -> None:
    """Refuse, before any work, an --output no file can be written to, naming its folder and
    why (`analytics.export.output_folder_problem`, the check `export_table` makes too)."""
    from analytics.export import IS_A_FOLDER, is_stream, output_folder_problem

    problem = output_folder_problem(output)
    if problem is None:
        return
    # A device or a named pipe that exists (/dev/null, /dev/stderr, a FIFO) is written
    # through, not replaced: its folder's permissions do not matter (a user may not write
    # in /dev), as `export_table` knows too. Refused here, every such --output failed for
    # all but root. A name under /dev that does not exist still gets its folder's reason.
    if problem != IS_A_FOLDER and os.path.exists(output) and is_stream(output):
        return
    raise UsageError(f"cannot write {str(output)!r}: {problem}")


def _check_database_found(db: Path) -> None:
    """Refuse a --db that cannot exist because a file stands where a folder of its path
    should be (`afile/w.duckdb`), naming that file: the library's "does not exist" sent the
    user looking for a missing file. A missing file or folder is the library's to say."""
    from analytics.database import file_on_the_way

    blocker = file_on_the_way(db)
    if blocker is not None:
        raise UsageError(f"cannot open database {str(db)!r}: {blocker}")


def _replace_file(output: Path, data: bytes) -> None:
    """Write `data` to `output` whole or not at all, as `export` does.

    Cron rewrites published reports: written in place, a full disk or a kill halfway would
    leave a torso where last night's good report was. So a file is written to a temporary
    name in its own folder, synced, and renamed over it; through a symbolic link, the file
    it points at is replaced and the link stays. A named pipe or a device is written
    through: renaming over it would replace it, and its reader would get nothing.
    """
    from analytics.export import is_stream, keep_permissions

    if is_stream(output):
        with open(output, "wb") as stream:
            stream.write(data)
        return
    target = Path(os.path.realpath(output))
    # Short and unique: a long report name plus a prefix could pass the name length limit.
    temp = target.parent / f"{TEMP_REPORT_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    # 0o666 and the umask: the mode a new file written in place gets (mkstemp's 0600 would
    # hide a published report from the web server); a file replaced keeps its own.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        keep_permissions(target, temp)
        os.replace(temp, target)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _export(args: argparse.Namespace) -> int:
    from analytics.export import export_table

    _check_database_found(args.db)
    to_stdout = str(args.output) in STDOUT_NAMES
    on_terminal = _is_terminal(None if to_stdout else args.output)
    if not to_stdout and not on_terminal:
        _check_output_folder(args.output)
        rows = export_table(args.db, args.table, args.format, args.output)
        exported = f"exported {counted(rows, 'row')} of {args.table} to {args.output}"
        _say_done(exported, quiet=args.quiet)
        return 0
    if to_stdout and args.stdout_closed:
        raise UsageError(STDOUT_CLOSED)
    if on_terminal and args.format == "parquet":
        # As gzip does: binary on a terminal is noise at best, and Parquet keeps visitor
        # text as it is, escape sequences included.
        raise UsageError(
            f"{args.format} is binary and not written to a terminal; give --output FILE, or pipe it"
        )
    # On a terminal, visitor text in the CSV is escaped as a report's is: see _TerminalCsv.
    encoding = (sys.stdout.encoding or "utf-8") if to_stdout else None
    shown = _TerminalCsv(encoding) if on_terminal else None
    with contextlib.ExitStack() as stack:
        if to_stdout:
            # Nothing of Python's buffer may come after what DuckDB writes.
            sys.stdout.flush()
            fd = sys.stdout.fileno()
        else:
            fd = os.open(args.output, os.O_WRONLY | os.O_NOCTTY)
            stack.callback(os.close, fd)
        with _StdoutRelay(fd, shown) as relay:
            rows = export_table(args.db, args.table, args.format, relay.path)
    if not args.quiet:
        where = "stdout" if to_stdout else args.output
        print(f"exported {counted(rows, 'row')} of {args.table} to {where}", file=sys.stderr)
    return 0


class _TerminalCsv:
    """DuckDB's CSV on its way to a terminal, piece by piece: the control and format
    characters of its fields escaped as a CSV report's are on a terminal (`\\x1b`, and a
    newline inside a quoted field as `\\n`, not a line that passes for another row), and
    the newlines that end its rows kept. A field is quoted by `"`, and a quote inside one
    doubled, so counting quotes tells inside from outside."""

    def __init__(self, encoding: str | None) -> None:
        from analytics.render.table import terminal_encoding
        from analytics.render.terminal import escapes

        self._encoding = encoding or "utf-8"
        lacking = terminal_encoding(encoding)
        self._outside = escapes(lacking, keep="\n")
        self._inside = escapes(lacking)
        self._quoted = False
        # Bytes of a character split between two reads wait for the rest.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes, *, final: bool = False) -> bytes:
        pieces = []
        for index, piece in enumerate(self._decoder.decode(data, final).split('"')):
            if index:
                self._quoted = not self._quoted
                pieces.append('"')
            pieces.append(piece.translate(self._inside if self._quoted else self._outside))
        return "".join(pieces).encode(self._encoding, errors="backslashreplace")


class _StdoutRelay:
    """A pipe that DuckDB writes into (by `path`) and a thread that copies it to `fd`.

    DuckDB writes to a path only. Handed /dev/fd/1 itself, it opened stdout anew: a file
    (`>> all.csv`, `{ echo; export; } > f`) was truncated and written from its start, and a
    socket (a systemd service's journal, ssh) cannot be opened at all. Through the pipe, the
    bytes go to stdout as it is, at its offset, whatever it is.
    """

    def __init__(self, fd: int, shown: _TerminalCsv | None = None) -> None:
        self._fd = fd
        self._shown = shown  # for a terminal: what it is given instead of the bytes
        self._read_end, self._write_end = os.pipe()
        self.path = f"/dev/fd/{self._write_end}"
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._copy, name="stdout-relay", daemon=True)

    def __enter__(self) -> _StdoutRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self._write_end)  # DuckDB has closed its own: the thread sees the end
        self._thread.join()
        # The cause, ahead of DuckDB's own error about the pipe it then could not write.
        if isinstance(self._error, BrokenPipeError):
            raise self._error
        if self._error is not None:
            raise _stdout_failed(self._error) from None

    def _copy(self) -> None:
        try:
            while chunk := os.read(self._read_end, RELAY_CHUNK):
                _write_all(self._fd, chunk if self._shown is None else self._shown.feed(chunk))
            if self._shown is not None:
                _write_all(self._fd, self._shown.feed(b"", final=True))
        except OSError as exc:
            # The reader left or the disk is full: DuckDB's next write into the pipe fails
            # (EPIPE) instead of blocking on a pipe nobody empties.
            self._error = exc
        finally:
            os.close(self._read_end)


def _prune(args: argparse.Namespace) -> int:
    from analytics.warehouse import Warehouse

    _check_database_found(args.db)
    stops: _Stops = args.stops
    warehouse = Warehouse(args.db, create=False, lock_timeout=args.wait)
    deleted = warehouse.prune(args.raw_days, before_commit=stops.commit_begins)
    pruned = f"pruned {counted(deleted, 'raw event')} older than {counted(args.raw_days, 'day')}"
    _say_done(pruned, quiet=args.quiet)
    # A stop signal during the prune's COMMIT is noted, not obeyed, as a rollup's: the rows
    # are gone, so "stopped by SIGTERM" (exit 143) was untrue, and a second prune, deleting
    # nothing, left their bytes readable in the file. The compaction (seconds) then goes on,
    # as after a rollup. Without one, it can be stopped until its rename, as `compact` can.
    compacting = bool(deleted) and not args.no_compact
    if compacting and stops.during_commit is None:
        stops.commit_ends()
    # Read after commit_ends: a signal handled before it was noted during the commit, one
    # after it raises. Read before, a signal in between was noted but taken for none, and
    # the compaction then said it came after its rename. With no compaction, the commit
    # never ends: a signal as the process exits is ignored, as after a rollup (it said 143).
    stopped_during_commit = stops.during_commit
    code = 0
    if compacting:
        code = _compact_after_prune(args.db, quiet=args.quiet, lock_timeout=args.wait, stops=stops)
        if code == 0 and stopped_during_commit is None:  # renamed into place
            _warn_stopped_after_rename(stops)
        elif stops.first is not None and stopped_during_commit is None:
            # Not renamed (refused, EBUSY say): the compaction is not finished, and a signal
            # noted after its commit point began is obeyed as one before it (exit 128 + N,
            # as `analytics compact` exits). Before, it said "finished, not stopped" after
            # the warning that the database was unchanged.
            raise _Stopped(stops.first)
    if stopped_during_commit is not None:
        logging.getLogger("analytics").warning(
            "%s came after the prune was committed: the prune was finished, not rolled back",
            signal.Signals(stopped_during_commit).name,
        )
    return code


def _progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: on a terminal (stderr), unless --quiet."""
    return not args.quiet and sys.stderr.isatty()


def _say_done(line: str, *, quiet: bool = False) -> None:
    """Print the summary of work that is already durable (committed, renamed into place).

    A reader that left (`| head -0`, a dead log shipper) or a full log disk cannot undo the
    work: exiting 1 would have cron report a failure for a run that succeeded, and its
    retry find nothing to do. So the line is dropped: quietly for a closed pipe, with one
    line on stderr otherwise. With `quiet` (--quiet) it is not printed at all.
    """
    if quiet:
        return
    # A file name or visitor text the stream's encoding lacks (PYTHONIOENCODING=ascii, a
    # Latin-1 terminal) is escaped: a UnicodeEncodeError here turned an export that was in
    # place into `analytics: error: 'ascii' codec can't encode…`, exit 2.
    encoding = sys.stdout.encoding or "utf-8"
    encoded = _printable(line).encode(encoding, errors="backslashreplace")
    shown = encoded.decode(encoding, errors="replace")
    try:
        print(shown)
        sys.stdout.flush()
    except OSError as exc:
        _stdout_to_devnull()
        if not isinstance(exc, BrokenPipeError):
            logging.getLogger("analytics").warning(
                "the work is done, but its summary could not be printed: %s",
                exc.strerror or exc,
            )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The CLI's one line per warning, on whatever `sys.stderr` is when it is written.

    Bound to the stream of the first call, `main()` called again in one process (a wrapper
    that redirects stderr, a test suite) wrote every later warning into that first stream,
    which may be closed by then, while its error lines (printed) arrived."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # called with the handler's lock held
        super().emit(record)


class _PrintableFormatter(logging.Formatter):
    """Warnings as `_printable` lines: they name segments and quote DuckDB's messages."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if record.levelno < logging.WARNING:
            # A note (the lock wait): neither a warning nor an error, so no level word.
            return _printable(f"{PROG}: {record.message}")
        return _printable(super().formatMessage(record))


def _printable(line: str) -> str:
    """`line` with its control and format characters escaped (`\\x1b`, `\\u202e`).

    Error lines, warnings and summaries quote file names from the spool, paths and library
    messages that may hold visitor text, and they are read on terminals, in cron mail and
    with `less`: an escape sequence there would act on the reader's terminal."""
    if line.isprintable():  # nearly always: no need to load the escaping
        return line
    from analytics.render.terminal import safe_text

    return safe_text(line)


class _RootWithoutInterrupts(logging.Handler):
    """The root logger's handler while the CLI runs Spark: what reaches the root logger is
    written as Python's last-resort handler writes it, but for a KeyboardInterrupt.

    py4j logs a Ctrl-C (and the CLI's SIGTERM, raised as one) that lands in a call to the
    JVM with the module-level `logging.exception`, whose basicConfig() gave the root logger
    a handler of its own: `ERROR:root:KeyboardInterrupt while sending command.` and a
    traceback came before the CLI's one line, and every later warning was written twice."""

    def emit(self, record: logging.LogRecord) -> None:
        from analytics.spark import interrupt_behind  # loaded: the Spark run logs this

        # Also an error that arose from one: py4j's "Exception occurred while shutting down
        # connection" (a BrokenPipeError met while handling the KeyboardInterrupt).
        error = record.exc_info[1] if record.exc_info else None
        stopped = error is not None and interrupt_behind(error) is not None
        ours = record.name.partition(".")[0] == "analytics"  # written by its own handler
        last_resort = logging.lastResort
        if not stopped and not ours and last_resort and record.levelno >= last_resort.level:
            last_resort.handle(record)


# The logging set-ups of a command, by the logger they change: how many main() calls are in
# one now, and its undo. Threads of one program may run main() at once (see
# _signals_stop_queries): the first one in sets it up, the last one out undoes it. One
# main() that undid it as it returned took the CLI's handler from another still running,
# whose warnings then came without `analytics: WARNING:` and unescaped (review r305 F1).
_SET_UPS_LOCK = threading.Lock()
_set_ups: dict[str, tuple[int, Callable[[], None]]] = {}


@contextlib.contextmanager
def _set_up_while_commands_run(
    logger: str, set_up: Callable[[], Callable[[], None] | None], *, keep: bool = False
) -> Iterator[None]:
    """`set_up()` by the first of the main() calls that run at once, its undo by the last one
    out; `set_up` returns None when it found nothing to do (a program's own handlers). With
    `keep` (the process that is the command) it is never undone: a warning at exit is the
    command's too."""
    with _SET_UPS_LOCK:
        users, undo = _set_ups.get(logger, (0, None))
        if users == 0:
            undo = set_up()
        if undo is not None:
            _set_ups[logger] = (users + 1, undo)
    if undo is None:
        yield
        return
    try:
        yield
    finally:
        if not keep:
            with _SET_UPS_LOCK:
                users, undo = _set_ups.pop(logger)
                if users > 1:
                    _set_ups[logger] = (users - 1, undo)
                else:
                    undo()


def _py4j_interrupts_unlogged() -> contextlib.AbstractContextManager[None]:
    def set_up() -> Callable[[], None] | None:
        root = logging.getLogger()
        if root.handlers:  # a program's own logging set-up (or a test's) decides alone
            return None
        handler = _RootWithoutInterrupts()
        root.addHandler(handler)
        return lambda: root.removeHandler(handler)

    return _set_up_while_commands_run("", set_up)


@contextlib.contextmanager
def _lock_waits_said(said: bool) -> Iterator[None]:
    """For one command: whether a wait for another run's lock is said on stderr
    (`analytics: waiting for …`), not under --quiet, where cron wants a line only when
    something needs attention. Said by the CLI's own handler alone, where it writes the
    analytics lines: propagated, the line also reached a program's root handler, whatever
    that logger's level, and came out twice. All put back on the way out: left at INFO, the
    logger went on saying every later library call's wait in a program that called main().
    Two commands at once (threads) share the logger: the later one's --quiet holds for both.
    The name is analytics.database.LOCK_WAIT_LOGGER's, not imported: that loads DuckDB, which
    a refused argument never needs."""
    log = logging.getLogger("analytics.lock_wait")

    def set_up() -> Callable[[], None]:
        level, propagate, handlers = log.level, log.propagate, log.handlers[:]
        ours: list[logging.Handler] = [
            h for h in logging.getLogger("analytics").handlers if isinstance(h, _StderrHandler)
        ]
        if ours:  # a program's own handlers on "analytics" get it as any other analytics line
            log.handlers, log.propagate = ours, False

        def undo() -> None:
            log.setLevel(level)
            log.handlers, log.propagate = handlers, propagate

        return undo

    with _set_up_while_commands_run(log.name, set_up):
        log.setLevel(logging.INFO if said else logging.WARNING)
        yield


def _cli_logging(*, whole_process: bool) -> contextlib.AbstractContextManager[None]:
    """The CLI's one line per warning on stderr while a command runs, and put back on the way
    out of a `main()` that a program called: left on the `analytics` logger, it wrote every
    later library warning of that program in the CLI's words, and a second time once the
    program set up logging of its own; and it left the logger at WARNING, a level the program
    may not have set. The process that is the command (`whole_process`) keeps it to the end.

    A program whose root logger already writes warnings to the console (`basicConfig()`)
    gets them there once, in its own format: the CLI's line as well printed each one twice.
    The logger is still at WARNING while the command runs, so that none is lost to a root
    logger at ERROR."""

    def set_up() -> Callable[[], None] | None:
        log = logging.getLogger("analytics")
        if log.handlers:  # a program that set up handlers of its own keeps them alone
            return None
        level = log.level
        handler: _StderrHandler | None = None
        if not _root_writes_warnings_to_console(log):
            handler = _StderrHandler()
            handler.setFormatter(_PrintableFormatter(f"{PROG}: %(levelname)s: %(message)s"))
            log.addHandler(handler)
        log.setLevel(logging.WARNING)

        def undo() -> None:
            if handler is not None:
                log.removeHandler(handler)
            log.setLevel(level)

        return undo

    return _set_up_while_commands_run("analytics", set_up, keep=whole_process)


def _root_writes_warnings_to_console(log: logging.Logger) -> bool:
    """Whether `log`'s warnings reach a root handler of the program's that writes them on
    stderr or stdout (`logging.basicConfig()`'s). Handlers that write elsewhere do not
    count: a log file, or pytest's capture of the records, which shows none of them."""
    if not log.propagate:
        return False
    consoles = [sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__]
    return any(
        isinstance(handler, logging.StreamHandler)
        and any(handler.stream is console for console in consoles if console is not None)
        and handler.level <= logging.WARNING
        for handler in logging.getLogger().handlers
    )


def _fail(message: str, code: int) -> int:
    # One line, whatever the message holds (DuckDB errors can span several).
    line = " ".join(message.split())
    if "@" in line:
        # An S3 endpoint's user:password@, wherever a library's message quotes it.
        from analytics.objectstore import mask_credentials

        line = mask_credentials(line)
    print(f"{PROG}: error: {_printable(line)}", file=sys.stderr)
    return code


def _stdout_failed(exc: OSError) -> UsageError:
    """`report ... > /dev/full`: what was meant for stdout is lost; say so in one line (and
    leave nothing for the interpreter's own flush at exit to fail on)."""
    _stdout_to_devnull()
    return UsageError(f"cannot write to standard output: {exc.strerror or exc}")


def _stdout_to_devnull() -> None:
    # The interpreter flushes stdout once more at exit; into a closed pipe that flush would
    # print "Exception ignored ... BrokenPipeError" after all.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _open_closed_standard_streams() -> bool:
    """Point closed standard descriptors at /dev/null; return whether stdout was closed.

    Cron or a supervisor may start the job with stdout or stderr closed. Then the next file
    opened (the database, a segment) would get descriptor 1 or 2, and a line meant for the
    log would land in it; and Python sets sys.stdout or sys.stderr to None, which no print,
    flush or isatty() here expects.
    """
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
            devnull = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
    stdout_closed = 1 in closed or sys.stdout is None
    # Open for the life of the process, as the standard streams are.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    return stdout_closed


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread as Ctrl-C's KeyboardInterrupt is, so that
    the same rollbacks and clean-ups run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Signals that stop a command as Ctrl-C does: cron's `timeout` and `systemctl stop` send
# SIGTERM, a closed terminal or ssh session SIGHUP. Left to their default action, they killed
# the process on the spot: no line said why, and an export left its temporary file behind.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _Stops:
    """The signals that asked the running command to stop, first one first."""

    def __init__(self) -> None:
        self.received: list[int] = []
        # Set just before a rollup's COMMIT is sent: from then on a stop signal no longer
        # raises (nor stops DuckDB's query), and the run finishes. Raised after COMMIT, it
        # said "stopped by SIGTERM" (exit 143) of a committed run, whose ingested segments
        # then stayed in the spool, and a wrapper under `set -e` skipped what follows.
        # Landing between this and COMMIT, a signal lets the run commit: what it says then
        # is true, and what the README promises (committed: exit 0, 3 or 4).
        self.committing = False
        # The first signal a handler noted while `committing`: set by the handlers alone (in
        # the main thread, between bytecodes), never by the watcher thread, so that read after
        # `commit_ends` it tells for certain which side of the commit's end a signal fell on.
        self.during_commit: int | None = None

    def note(self, signum: int) -> None:
        self.received.append(signum)  # list.append is atomic: the watcher thread calls it

    def note_during_commit(self, signum: int) -> None:
        self.note(signum)
        if self.during_commit is None:
            self.during_commit = signum

    def commit_begins(self) -> None:
        self.committing = True

    def commit_ends(self) -> None:
        """The commit is done and what follows may be stopped again (prune's compaction,
        until its own rename)."""
        self.committing = False

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None


def _raise_stopped_once(stops: _Stops) -> Callable[[int, object], None]:
    raised = False

    def handler(signum: int, frame: object) -> None:
        # Only the first: a second SIGTERM (systemd repeats none, but a user might) must not
        # interrupt the clean-up the first one started.
        nonlocal raised
        if stops.committing:
            # Noted here too, not by the watcher thread alone: it may read the signal only
            # after the command has asked (a prune's COMMIT: see _prune).
            stops.note_during_commit(signum)
        elif not raised:
            raised = True
            raise _Stopped(signum)

    return handler


def _interrupt_unless_committing(stops: _Stops) -> Callable[[int, object], None]:
    def handler(signum: int, frame: object) -> None:
        # Ctrl-C as Python's own handler takes it (every press raises), but not once the
        # rollup's COMMIT is under way: the run is then finished instead (see _Stops).
        if stops.committing:
            stops.note_during_commit(signum)  # as in _raise_stopped_once
        else:
            raise KeyboardInterrupt

    return handler


@contextlib.contextmanager
def _signals_stop_queries(stops: _Stops, *, whole_process: bool = False) -> Iterator[None]:
    """While the command runs, Ctrl-C, SIGTERM and SIGHUP stop DuckDB's query at once and
    are noted in `stops`.

    Python runs its signal handlers only when the main thread gets back to Python code, and
    DuckDB looks for a signal only between tasks: a bulk insert ran to its end before
    noticing (a second or more, and a Ctrl-C during the ingest used to be taken for a
    damaged segment and the run tried again). The signal's number also goes to a wakeup
    socket at once, whatever the main thread is doing; a thread reading it tells every open
    connection to stop. Python's own KeyboardInterrupt (or `_Stopped`) still follows. A
    signal whose handler is not the default (`nohup` ignores SIGHUP) keeps its handler.

    `whole_process`: the command is the process (`analytics ...`, not `main()` called by a
    program), so once a rollup's COMMIT is under way the signals it took are ignored until
    the process exits, not handed back to their default action: a SIGTERM while the summary
    was printed, or the interpreter was exiting, killed it and said 143 of a committed run."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (main() called from a worker)
        return
    handler = _raise_stopped_once(stops)
    replaced = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            replaced[signum] = signal.signal(signum, handler)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        replaced[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt_unless_committing(stops))
    reader, writer = socket.socketpair()
    writer.setblocking(False)  # the C signal handler must never block on it
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watched = frozenset({signal.SIGINT, *replaced})
    watcher = threading.Thread(
        target=_watch_signals, args=(reader, watched, stops), name="stop-signals", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()  # the watcher reads the end of the stream and returns
        watcher.join()
        reader.close()
        keep_ignoring = whole_process and stops.committing
        for signum, before in replaced.items():
            signal.signal(signum, signal.SIG_IGN if keep_ignoring else before)


def _watch_signals(reader: socket.socket, watched: frozenset[int], stops: _Stops) -> None:
    while data := reader.recv(64):  # one byte per signal that has a Python handler
        for signum in data:
            if signum in watched:
                stops.note(signum)
        if not stops.received or stops.committing:
            continue  # after COMMIT, nothing is left to stop: the run finishes
        # Loaded only by commands that opened a database: none open otherwise.
        database = sys.modules.get("analytics.database")
        if database is not None:
            database.interrupt_all()


def _stopped(signum: int | None) -> int:
    """The one line and exit code of a command a signal stopped (128 + its number, as a
    shell reports)."""
    if signum is None or signum == signal.SIGINT:
        return _fail("interrupted", EXIT_INTERRUPTED)
    return _fail(f"stopped by {signal.Signals(signum).name}", 128 + signum)


def cookiewall_version() -> str:
    """The installed distribution's version (a source tree that was never installed has none)."""
    try:
        return metadata.version("cookiewall")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def console_main() -> int:
    """The `analytics` command and `python -m analytics`: the process is the command.

    Only then may the CLI leave SIGTERM, SIGHUP and SIGINT ignored after a committed rollup
    until the process exits (a late signal would report a committed run as stopped). A
    program that calls `main()` keeps its own signal handling."""
    return main(whole_process=True)


def main(argv: Sequence[str] | None = None, *, whole_process: bool = False) -> int:
    """Run one command (`argv`, default `sys.argv[1:]`) and return its exit code.

    `whole_process=True` (the console script, `-m`) says the command is the process: see
    `console_main`. Called from a program, the signal handlers and the `analytics` logger
    are handed back as they were."""
    stdout_closed = _open_closed_standard_streams()
    with _cli_logging(whole_process=whole_process):
        return _run(argv, stdout_closed=stdout_closed, whole_process=whole_process)


def _run(argv: Sequence[str] | None, *, stdout_closed: bool, whole_process: bool) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    # A gate-only install (`pip install cookiewall`) has this script but not the extra's
    # modules: one line naming the extra, before any command (or --help) runs into an
    # ImportError. --version needs none of them.
    missing = missing_modules()
    if missing and given[:1] != ["--version"]:
        return _fail(needs_extra(PROG, missing), EXIT_USAGE)
    stops = _Stops()
    _Parser.stdout_closed = stdout_closed
    try:
        args = build_parser().parse_command_line(given)
        args.stdout_closed = stdout_closed
        args.stops = stops
        handler: Callable[[argparse.Namespace], int] = args.handler
        with (
            _lock_waits_said(not getattr(args, "quiet", False)),
            _signals_stop_queries(stops, whole_process=whole_process),
        ):
            code = handler(args)
        try:
            sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at exit
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _stdout_failed(exc) from None
        return code
    except BrokenPipeError:
        # `analytics report ... | head`: the reader has what it wanted. No traceback.
        _stdout_to_devnull()
        return EXIT_PIPE_CLOSED
    except _Stopped as exc:
        return _stopped(exc.signum)
    except (KeyboardInterrupt, Interrupted):
        return _stopped(stops.first)
    except ModuleNotFoundError as exc:
        # A module of the extra that the check at the start did not see missing (removed
        # since, or broken): the same one line. Any other missing module is a bug.
        module = missing_extra_module(exc)
        if module is None:
            raise
        return _fail(needs_extra(PROG, [module]), EXIT_USAGE)
    except (UsageError, AnalyticsError, ValueError, RuntimeError) as exc:
        if stops.during_commit is not None and isinstance(exc, AnalyticsError):
            # The signal was noted, not obeyed (see _Stops), so it stopped nothing: this is
            # how the rollup's or prune's COMMIT ended. Said "stopped by SIGTERM" (exit 143),
            # it hid a full disk, and called "nothing committed" a run whose COMMIT could
            # not be read back (review r247 F1). `compact`'s refused rename: see _compact.
            name = signal.Signals(stops.during_commit).name
            return _fail(f"{exc} ({name} came during the COMMIT, not obeyed)", EXIT_USAGE)
        if stops.first is not None or _is_duckdb_ctrl_c(exc):
            # The query a signal stopped, whatever the code around it made of that (an
            # export "cannot write", a report "query failed"); Ctrl-C while DuckDB runs a
            # query may also come out as DuckDB's RuntimeError. Transactions are rolled back.
            return _stopped(stops.first)
        if isinstance(exc, WarehouseLockedError):
            return _fail(str(exc), EXIT_BUSY)
        if not isinstance(exc, (UsageError, AnalyticsError, ValueError)):
            raise  # any other RuntimeError is a bug: its traceback is what helps
        return _fail(str(exc), EXIT_USAGE)


def _is_duckdb_ctrl_c(error: BaseException) -> bool:
    """Whether `error` is DuckDB's RuntimeError for a Ctrl-C during a query (see
    `analytics.database.is_ctrl_c`). DuckDB is looked at only once loaded: the analytics
    extra may be missing, and an error of a run that never loaded it is not DuckDB's."""
    if sys.modules.get("duckdb") is None:
        return False
    from analytics.database import is_ctrl_c

    return is_ctrl_c(error)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
