"""A privacy audit by bytes of the paths that warn, quarantine, wait and refuse: marker
values (a client address, a user agent, cookie values, a query string with an e-mail address,
a `raw_path` that carries the query as some servers and proxies leave it) sent through the
full stack on a real uvicorn (examples/uvicorn-log.json, trace level) and a real hypercorn,
then a recorder whose clock goes back days (the salt warnings), a rollup that meets a
damaged segment, a segment whose text is not UTF-8 and a segment that vanishes, Ctrl-C in a
rollup, report and export in every format, a data file given as --db, and the dashboard's
pages and API before and after its warehouse is damaged ("keeps its old copy"). Every byte
written, printed or logged is then searched for every marker.

tests/test_privacy_audit_under_uvicorn.py covers the error paths of the request itself."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from analytics.cli import main as analytics_main
from analytics.dashboard import dashboard
from analytics.dashboard.snapshot import RETRY_PAUSE
from analytics.footers import Footer, read_footer
from analytics.warehouse import Warehouse
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy, ReceiptLog
from tests.recording_support import capture
from tests.support import ROOT, free_port, serve_command
from tests.warehouse_support import stored_paths, text_columns

RUN = uuid.uuid4().hex
ADDRESS = "203.0.113.77"
AGENT_MARK = f"MARKER-UA-{RUN}"
AGENT = f"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 {AGENT_MARK}"
COOKIE_MARK = f"MARKER-CK-{RUN}"
QUERY_MARK = f"MARKER-QS-{RUN}"
EMAIL = f"marker.{RUN}@example.com"
QUERY = f"q={QUERY_MARK}&email={EMAIL}"
MARKERS = [ADDRESS, AGENT_MARK, COOKIE_MARK, QUERY_MARK, EMAIL, RUN]
PACKED = socket.inet_aton(ADDRESS)
USER, PASSWORD = "auditor", "audit-password-2"
NONCE = "r4nd0mN0nce"


class QueryInRawPath:
    """What some servers and proxies do, which ASGI does not: the query string left in
    `raw_path` too. Only for paths under /rawq, so that the other requests stay as sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/rawq"):
            raw = scope.get("raw_path") or scope["path"].encode()
            scope = {**scope, "raw_path": raw + b"?" + scope["query_string"]}
        await self.app(scope, receive, send)


async def _page(request: Request) -> Response:
    if request.url.path.startswith("/missing"):
        return HTMLResponse("<p>no such page</p>", status_code=404)
    if request.url.path == "/boom":
        raise RuntimeError("the page failed")  # says nothing of the request: the server logs it
    page = f'<!doctype html><html><head><script nonce="{NONCE}"></script></head><body>p</body>'
    response = HTMLResponse(page + "</html>")
    if request.url.path == "/csp":
        response.headers["content-security-policy"] = f"script-src 'nonce-{NONCE}'"
    response.set_cookie("session", "set-by-the-app")
    return response


def create_app() -> ASGIApp:
    """The audited site (a server's factory): its folder from AUDIT_VAR."""
    var = Path(os.environ["AUDIT_VAR"])
    recorder = Recorder(
        var / "spool",
        "example.com",
        record="all",
        trusted_proxies=["127.0.0.1"],
        flush_interval=0.5,
    )
    policy = Policy(
        version="audit-2",
        categories=[Category("necessary", required=True), Category("analytics")],
        cookies=[CookieRule("session", "necessary"), CookieRule("_ga*", "analytics")],
    )
    site = Starlette(
        routes=[Route("/{rest:path}", _page, methods=["GET", "HEAD"])],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=policy,
                secret_key="audit-secret-key-not-a-marker",
                inject_banner=True,
                receipts=ReceiptLog(var / "receipts.jsonl"),
            ),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    return QueryInRawPath(site)


HEADERS = {
    "User-Agent": AGENT,
    "X-Forwarded-For": ADDRESS,
    "Cookie": f"session={COOKIE_MARK}; _ga_X={COOKIE_MARK}-ga; stray={COOKIE_MARK}",
    "Referer": f"https://forum.example.net/t/1?{QUERY}",
    "Connection": "close",
}
# (method, target, status): the raw_path ones store the path without any of the query.
REQUESTS = [
    ("GET", f"/page/first?{QUERY}", 200),
    ("HEAD", f"/page/head?{QUERY}", 200),
    ("GET", f"/missing/page?{QUERY}", 404),
    ("GET", f"/boom?{QUERY}", 500),
    ("GET", f"/csp?{QUERY}", 200),
    ("GET", f"/files/a%2Fb?{QUERY}", 200),
    ("GET", f"/rawq/files/a%2Fb?{QUERY}", 200),
    ("GET", f"/rawq/plain?next=%2Fx%2Fy&{QUERY}", 200),
    ("GET", f"/rawq/c%2Fd?email={quote(EMAIL, safe='')}%2F", 200),
    ("GET", f"/u/{EMAIL}?{QUERY}", 200),
    ("GET", f"/consent/banner?{QUERY}", 200),
]
STORED = {"/page/first", "/page/head", "/missing/page", "/boom", "/csp", "/files/a%2Fb"}
STORED |= {"/rawq/files/a%2Fb", "/rawq/plain", "/rawq/c%2Fd", "/u/:redacted"}


def _traffic(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for method, target, status in REQUESTS:
            response = client.request(method, target, headers=HEADERS)
            assert response.status_code == status, (method, target, response.status_code)
        consent = client.post(
            f"/consent?{QUERY}",
            json={"action": "accept_all"},
            headers={**HEADERS, "Origin": base_url},
        )
        assert consent.status_code == 200, consent.text
        decided = "; ".join(f"{name}={value}" for name, value in consent.cookies.items())
        accepted = {**HEADERS, "Cookie": f"{HEADERS['Cookie']}; {decided}"}
        assert client.get(f"/rawq/accepted%2Fpage?{QUERY}", headers=accepted).status_code == 200
        withdraw = {**accepted, "Origin": base_url}
        assert client.post("/consent", json={"action": "reject_all"}, headers=withdraw).is_success


def _serve(argv: list[str], port: int, var: Path, out: Path) -> None:
    """Run a server with its stdout and stderr kept in `out`.*; send the traffic; stop it
    with SIGTERM, which flushes the recorder."""
    command = " ".join(f"'{arg}'" for arg in argv)
    shell = ["sh", "-c", f"exec {command} >'{out}.stdout' 2>'{out}.stderr'"]
    with serve_command(shell, port, {"AUDIT_VAR": str(var)}) as (base_url, _process):
        _traffic(base_url)


def _salt_warnings(var: Path) -> None:
    """A recorder whose clock goes back days: events of a day whose salt is deleted."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=5)
    recorder = Recorder(
        var / "spool",
        "example.com",
        clock=lambda: start,
        salt_dir=var / "backfill-salts",
        flush_interval=3600,
    )
    for days in (0, 2, 0.1, 3, 1.5):
        recorder.add(
            capture(
                f"/backfill/{EMAIL}",
                ts=start + timedelta(days=days),
                query=QUERY.encode(),
                user_agent=AGENT.encode(),
                peer=ADDRESS,
                referer=HEADERS["Referer"].encode(),
                raw_path=f"/backfill/{EMAIL}?{QUERY}".encode(),
            )
        )
        recorder.convert()
    recorder.close()


def _spoil_segments(spool: Path, prefix: str) -> str:
    """A damaged copy, a copy whose path text is not UTF-8, and one that will vanish; all
    made of what the recorder wrote. Returns the name of the one to vanish."""
    segments = sorted(spool.glob("day=*/*.parquet"))
    assert segments
    first = segments[0]
    damaged = first.with_name(f"{prefix}damaged.parquet")
    data = bytearray(first.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = random.Random(3).randbytes(64)
    damaged.write_bytes(bytes(data))
    table = pq.read_table(first)
    index = table.schema.get_field_index("path")
    bad_paths = [(p or "/").encode() + b"\xe9" for p in table["path"].to_pylist()]
    bad = pa.array(bad_paths, pa.binary()).view(pa.string())  # `view` keeps the bytes as they are
    pq.write_table(
        table.set_column(index, table.schema.field(index), bad),
        first.with_name(f"{prefix}not-utf8.parquet"),
        use_dictionary=False,
    )
    vanishing = first.with_name(f"{prefix}vanishing.parquet")
    shutil.copy(segments[-1], vanishing)
    return vanishing.name


def _cli(args: list[str], outputs: dict[str, bytes], label: str) -> int:
    """The CLI in its own process, as cron runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    outputs[label] = done.stdout + done.stderr
    return done.returncode


def _interrupted_rollup(var: Path, outputs: dict[str, bytes]) -> None:
    """Ctrl-C in a rollup of a copy of the spool, once it has started."""
    spool = var / "ctrl-c" / "spool"
    shutil.copytree(var / "spool", spool, ignore=shutil.ignore_patterns("*salt*"))
    argv = ["rollup", "--spool", str(spool), "--db", str(var / "ctrl-c" / "w.duckdb")]
    process = subprocess.Popen(
        [sys.executable, "-m", "analytics", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    outputs["rollup interrupted"] = out + err


async def _dashboard(db: Path) -> list[bytes]:
    """Every page and API answer, then the same after the warehouse is damaged."""
    app = dashboard(db, basic=(USER, PASSWORD), min_visitors=1)
    transport = httpx.ASGITransport(app=app, client=(ADDRESS, 4444))
    today = datetime.now(UTC).date()
    span = f"from={(today - timedelta(days=7)).isoformat()}&to={today.isoformat()}"
    paths = [
        f"/?{span}",
        "/api/sites",
        f"/api/timeseries?{span}",
        f"/api/referrers?{span}",
        f"/api/sources?{span}",
        f"/api/pages?{span}",
        f"/api/campaigns?{span}",
        f"/referrer?referrer=forum.example.net&{span}",
        f"/api/referrer-pages?referrer=forum.example.net&{span}",
    ]
    answers: list[bytes] = []
    async with httpx.AsyncClient(
        transport=transport, base_url="http://example.com", auth=(USER, PASSWORD)
    ) as client:
        for path in paths:
            response = await client.get(path, headers={"User-Agent": AGENT})
            assert response.status_code == 200, (path, response.text[:300])
            answers.append(response.content)
        size = db.stat().st_size
        with open(db, "r+b") as file:  # damaged under the running dashboard
            file.seek(size // 2)
            file.write(random.Random(5).randbytes(size - size // 2))
        os.utime(db, ns=(1, 1))
        for _ in range(2):
            await asyncio.sleep(RETRY_PAUSE + 0.1)
            response = await client.get(paths[2], headers={"User-Agent": AGENT})
            answers.append(response.content)
    # The data is there: the referrer page of forum.example.net shows its registrable domain.
    assert any(b"example.net" in answer for answer in answers)
    return answers


def _find(label: str, data: bytes) -> list[str]:
    found = []
    for marker in MARKERS:
        for encoded in (marker.encode(), marker.encode("utf-16-le"), quote(marker).encode()):
            if encoded in data:
                found.append(f"{marker!r} in {label}")
    if PACKED in data:
        found.append(f"the packed client address in {label}")
    return found


def test_no_marker_reaches_any_byte_the_new_surfaces_write(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    servers = tmp_path / "servers"
    servers.mkdir()
    factory = "tests.test_privacy_audit_new_surfaces:create_app"
    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1"]
    uvicorn += ["--port", str(port), "--log-config", "examples/uvicorn-log.json"]
    _serve([*uvicorn, "--log-level", "trace"], port, var, servers / "uvicorn")
    port = free_port()
    hypercorn = [sys.executable, "-m", "hypercorn", f"{factory}()", "--bind"]
    _serve([*hypercorn, f"127.0.0.1:{port}"], port, var, servers / "hypercorn")
    caplog.set_level(logging.DEBUG)
    # The CLI's own logging set-up (main() run in-process by earlier tests) leaves the
    # `analytics` logger at WARNING: its INFO and DEBUG lines must be searched too.
    caplog.set_level(logging.DEBUG, logger="analytics")
    _salt_warnings(var)
    assert any("after its salt was deleted" in r.getMessage() for r in caplog.records)

    outputs: dict[str, bytes] = {}
    _interrupted_rollup(var, outputs)
    # In process first, every logger at DEBUG (the CLI keeps "analytics" at WARNING); then
    # the CLI meets the same damage again.
    vanishing = _spoil_segments(var / "spool", "a-")

    def footer_then_gone(path: Path) -> Footer:
        footer = read_footer(path)
        if Path(path).name == vanishing:
            Path(path).unlink()
        return footer

    monkeypatch.setattr("analytics.warehouse.read_footer", footer_then_gone)
    db = var / "analytics.duckdb"
    Warehouse(db).run(var / "spool")
    assert any("is gone since the spool was listed" in r.getMessage() for r in caplog.records)
    assert any("bulk read failed" in r.getMessage() for r in caplog.records)
    vanishing = _spoil_segments(var / "spool", "b-")
    assert analytics_main(["rollup", "--spool", str(var / "spool"), "--db", str(db)]) == 0
    monkeypatch.undo()
    quarantined = sorted(p.name for p in (var / "spool" / "quarantine").rglob("*.parquet"))
    expected = ["a-damaged.parquet", "a-not-utf8.parquet", "b-damaged.parquet"]
    assert quarantined == [*expected, "b-not-utf8.parquet"]
    assert not list((var / "spool").rglob("*vanishing.parquet"))

    exports = var / "exports"
    exports.mkdir()
    today = datetime.now(UTC).date()
    span = ["--from", (today - timedelta(days=7)).isoformat(), "--to", today.isoformat()]
    for table in ["events", "daily_totals", "daily_referrers", "daily_sources", "daily_pages"]:
        for fmt in ("csv", "parquet"):
            target = str(exports / f"{table}.{fmt}")
            args = ["export", "--db", str(db), "--table", table, "--format", fmt]
            assert analytics_main([*args, "--output", target]) == 0
    to_stdout = ["export", "--db", str(db), "--table", "events", "--format", "csv"]
    assert _cli([*to_stdout, "--output", "-"], outputs, "export to stdout") == 0
    for kind in ("referrers", "pages", "sources", "campaigns", "summary", "trends"):
        for fmt in ("json", "csv", "html", "table"):
            target = str(exports / f"{kind}.{fmt}.out")
            args = ["report", kind, "--db", str(db), *span, "--format", fmt]
            assert analytics_main([*args, "--output", target]) == 0
        assert analytics_main(["report", kind, "--db", str(db), *span]) == 0  # to stdout
    for data_file in ("events.parquet", "events.csv"):  # a data file given as --db
        argv = ["report", "pages", "--db", str(exports / data_file)]
        assert _cli(argv, outputs, f"report --db {data_file}") != 0
    assert _cli(["rollup", "--spool", str(var / "spool"), "--db", str(db)], outputs, "rerun") == 0
    pages = asyncio.run(_dashboard(_copy(db)))
    assert any("keeps its old copy" in r.getMessage() for r in caplog.records)

    leaks: list[str] = []
    written = {
        str(path.relative_to(tmp_path)): path.read_bytes()
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file() and not any("salt" in part for part in path.parts)
    }
    assert {"servers/uvicorn.stdout", "servers/uvicorn.stderr", "servers/hypercorn.stderr"} <= set(
        written
    )
    assert b'"GET /page/first HTTP/1.1" 200' in written["servers/uvicorn.stdout"]
    for name, data in written.items():
        leaks += _find(name, data)
        if name.endswith(".parquet"):
            try:
                table = pq.read_table(tmp_path / name)
            except Exception:  # the damaged one: its bytes were searched above
                assert name.endswith("damaged.parquet"), name
                continue
            # As bytes: a quarantined segment's text need not be UTF-8.
            columns = [c.cast(pa.binary()) if c.type == pa.string() else c for c in table.columns]
            decoded = repr([c.to_pylist() for c in columns]) + repr(table.schema.metadata)
            leaks += _find(f"{name} (decoded)", decoded.encode())
    stored = text_columns(db)
    for (table_name, column), values in stored.items():
        leaks += _find(f"warehouse {table_name}.{column}", values)
    paths = stored_paths(db)
    # What the requests left is there (both servers), and no stored path holds a query.
    assert paths >= STORED, sorted(STORED - paths)
    assert not [path for path in paths if "?" in path or "email" in path], sorted(paths)
    for label, output in outputs.items():
        leaks += _find(f"CLI output ({label})", output)
    for record in caplog.records:
        text = f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        leaks += _find(f"log record {record.name}:{record.lineno}", text.encode())
    out = capsys.readouterr()
    leaks += _find("in-process CLI output", (out.out + out.err).encode())
    leaks += [leak for n, page in enumerate(pages) for leak in _find(f"dashboard answer {n}", page)]
    assert not leaks, "\n".join(leaks)


def _copy(db: Path) -> Path:
    """The dashboard's own copy of the warehouse, damaged while it serves."""
    copy = db.with_name("dashboard.duckdb")
    shutil.copy(db, copy)
    return copy
