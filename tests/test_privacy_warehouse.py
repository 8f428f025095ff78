"""Privacy promise, end to end: the client address (v4, v6, X-Forwarded-For), the user agent,
cookie values, referrer credentials and the query string never reach the spool, the DuckDB
warehouse, an export, a report, the receipts log or a log line.

Searched two ways, because compressed formats hide plain bytes: the raw bytes of every file,
and every decoded text value (every VARCHAR of every warehouse table, every Parquet column)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.cli import main as analytics_main
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy, ReceiptLog

IPV4 = "203.0.113.77"
IPV6 = "2001:db8:dead:beef::77"
FORWARDED = "198.51.100.201"
PROXY = "10.9.8.7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) DistinctiveAgent/9.9 secret-ua-marker"
SECRETS = [
    IPV4,
    IPV6,
    FORWARDED,
    "secret-ua-marker",
    "DistinctiveAgent",
    "hunter2pass",  # referrer credentials
    "sup3rs3cr3tquery",  # query string
    "cookievalue-xyz",  # an app cookie's value
]
PACKED = [ipaddress.ip_address(a).packed for a in (IPV4, IPV6, FORWARDED)]
YESTERDAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(
    days=1
)

POLICY = Policy(
    version="privacy-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[CookieRule("session", "necessary")],
)


async def page(request: Request) -> Response:
    response = HTMLResponse("<!doctype html><html><body>hello</body></html>")
    response.set_cookie("session", "cookievalue-xyz")
    return response


def _app(var: Path) -> tuple[Any, Recorder]:
    recorder = Recorder(
        var / "spool",
        "example.com",
        clock=lambda: YESTERDAY,
        trusted_proxies=[PROXY],
        flush_interval=3600,
    )
    app = Starlette(
        routes=[Route("/", page), Route("/blog/{slug}", page)],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=POLICY,
                secret_key="privacy-test-secret-key",
                receipts=ReceiptLog(var / "receipts.jsonl"),
            ),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    return app, recorder


async def _traffic(app: Any) -> None:
    referer = "https://user:hunter2pass@forum.example.net/t/1?sid=sup3rs3cr3tquery"
    for client, extra in (
        ((IPV4, 50000), {}),
        ((IPV6, 50001), {}),
        ((PROXY, 50002), {"X-Forwarded-For": FORWARDED}),
    ):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="https://example.com",
            cookies={"session": "cookievalue-xyz"},
        ) as http:
            headers = {"User-Agent": USER_AGENT, "Referer": referer, **extra}
            for path in ("/", "/blog/post?utm_source=news&tok=sup3rs3cr3tquery"):
                response = await http.get(path, headers=headers)
                assert response.status_code == 200
            decided = await http.post(
                "/consent",
                json={"action": "accept_all"},
                headers={**headers, "Origin": "https://example.com"},
            )
            assert decided.status_code == 200
            response = await http.get("/", headers=headers)
            assert response.status_code == 200


def _assert_clean(label: str, data: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret!r} found in {label}"
        assert secret.encode("utf-16-le") not in data, f"{secret!r} (UTF-16) found in {label}"
    for packed in PACKED:
        assert packed not in data, f"a packed client address found in {label}"


def test_nothing_identifying_reaches_spool_warehouse_exports_reports_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    var = tmp_path / "var"
    app, recorder = _app(var)
    asyncio.run(_traffic(app))
    recorder.close()

    db = var / "analytics.duckdb"
    assert analytics_main(["rollup", "--spool", str(var / "spool"), "--db", str(db)]) == 0
    exports = var / "exports"
    exports.mkdir()
    for table in (
        "events",
        "daily_totals",
        "daily_referrers",
        "daily_sources",
        "daily_pages",
        "daily_campaigns",
    ):
        for fmt in ("csv", "parquet"):
            target = exports / f"{table}.{fmt}"
            code = analytics_main(
                [
                    "export",
                    "--db",
                    str(db),
                    "--table",
                    table,
                    "--format",
                    fmt,
                    "--output",
                    str(target),
                ]
            )
            assert code == 0
    day = YESTERDAY.date().isoformat()
    for kind in ("referrers", "pages", "sources", "campaigns", "summary", "trends"):
        for fmt in ("json", "csv", "html", "table"):
            code = analytics_main(
                [
                    "report",
                    kind,
                    "--db",
                    str(db),
                    "--from",
                    day,
                    "--to",
                    day,
                    "--format",
                    fmt,
                    "--output",
                    str(exports / f"{kind}.{fmt}.out"),
                ]
            )
            assert code == 0

    # The data went where it should: 9 pageviews, the referrer's host, the UTM source.
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT sum(pageviews) FROM daily_totals").fetchall() == [(9,)]
        assert con.execute("SELECT DISTINCT referrer_host FROM events").fetchall() == [
            ("forum.example.net",)
        ]
        assert ("news",) in con.execute("SELECT DISTINCT utm_source FROM events").fetchall()
        # Every text value of every table, decoded.
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall()
        assert columns
        for table, column in columns:
            values = con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall()
            _assert_clean(f"{table}.{column}", repr(values).encode())
    finally:
        con.close()

    files = [p for p in var.rglob("*") if p.is_file() and "salts" not in p.parts]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        _assert_clean(str(path.relative_to(var)), path.read_bytes())
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            _assert_clean(f"{path.name} (decoded)", repr(table.to_pylist()).encode())
    # Our loggers only: the test's own HTTP client logs the URLs it requests, query and all.
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("analytics", "cookiewall")]
    _assert_clean("log records", "\n".join(r.getMessage() for r in ours).encode())
    out = capsys.readouterr()
    _assert_clean("CLI output", (out.out + out.err).encode())
