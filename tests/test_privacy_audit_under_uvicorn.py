"""A privacy audit by bytes, under a real uvicorn: cookiewall + analytics with every output
turned on (receipts, uvicorn's trace logs and every logger at DEBUG through the private log
filter, the warehouse, exports, reports, the dashboard), fed requests that carry a marker
client address (through a trusted proxy's X-Forwarded-For), user agent, cookie value, query
string and referrer query, on the error paths too: a 404, a HEAD, a page that raises, a bot,
malformed and oversized headers, undecodable bytes. Then every byte written is searched.

The in-process audit (tests/test_privacy_warehouse.py) and the one-request trace-log check
(tests/test_accesslog.py) cover the happy path without a server or without the rest."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
from analytics.dashboard import dashboard
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy, ReceiptLog
from tests.support import uvicorn_server
from tests.warehouse_support import stored_paths, text_columns

ADDRESS = "198.51.100.163"
ADDRESS6 = "2001:db8:feed:1::63"
AGENT_MARK = "QuetzalMarkerAgent"
AGENT = f"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 {AGENT_MARK}/7.7"
BOT = "QuetzalMarkerBot/1.0 (+https://crawler.example/bot)"
COOKIE_MARK = "cookie-marker-narwhal"
QUERY_MARK = "query-marker-okapi"
REFERER_MARK = "referer-marker-tapir"
MARKERS = [ADDRESS, ADDRESS6, AGENT_MARK, "QuetzalMarkerBot", COOKIE_MARK, QUERY_MARK, REFERER_MARK]
PACKED = [ipaddress.ip_address(a).packed for a in (ADDRESS, ADDRESS6)]
# The IPv6 marker as uvicorn or a formatter may spell it.
SPELLINGS = [ipaddress.ip_address(ADDRESS6).exploded, f"[{ADDRESS6}]"]
USER, PASSWORD = "auditor", "audit-password-1"


def _policy() -> Policy:
    return Policy(
        version="audit-1",
        categories=[Category("necessary", required=True), Category("analytics")],
        cookies=[CookieRule("session", "necessary"), CookieRule("_ga*", "analytics")],
    )


async def _page(request: Request) -> Response:
    response = HTMLResponse("<!doctype html><html><body><p>page</p></body></html>")
    response.set_cookie("session", "set-by-the-app")
    return response


async def _boom(request: Request) -> Response:
    raise RuntimeError("the page failed")  # says nothing of the request: uvicorn logs it


def create_app() -> Starlette:
    """The audited site (uvicorn --factory): settings from AUDIT_VAR."""
    var = Path(os.environ["AUDIT_VAR"])
    recorder = Recorder(
        var / "spool",
        "example.com",
        record="all",  # 404s, errors and HEADs are events too
        trusted_proxies=["127.0.0.1"],
        flush_interval=0.5,
    )
    return Starlette(
        routes=[Route("/page/{slug}", _page, methods=["GET", "HEAD"]), Route("/boom", _boom)],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=_policy(),
                secret_key="audit-secret-key-not-a-marker",
                inject_banner=True,
                receipts=ReceiptLog(var / "receipts.jsonl"),
            ),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )


def _log_config(log_file: Path) -> dict[str, Any]:
    """examples/uvicorn-log.json's private filter on every handler, every logger at DEBUG
    (uvicorn's at trace), all into one file."""
    handler = {
        "class": "logging.FileHandler",
        "filename": str(log_file),
        "formatter": "plain",
        "filters": ["private"],
        "level": 1,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"private": {"()": "analytics.accesslog.PrivateAccessLog"}},
        "formatters": {
            "plain": {"format": "%(levelname)s %(name)s %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelname)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": {"file": handler, "access": {**handler, "formatter": "access"}},
        "root": {"handlers": ["file"], "level": "DEBUG"},
        "loggers": {
            "uvicorn": {"handlers": ["file"], "level": 5, "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": 5, "propagate": False},
        },
    }


def _raw(base_url: str, request: bytes) -> bytes:
    """Send bytes as they are (what httpx refuses to send) and return the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _traffic(base_url: str) -> list[bytes]:
    """Every kind of request, each carrying the markers; returns the answers' bytes."""
    cookies = f"session={COOKIE_MARK}; _ga_X={COOKIE_MARK}-ga; stray={COOKIE_MARK}-stray"
    referer = f"https://user:{REFERER_MARK}@forum.example.net/t/1?sid={REFERER_MARK}"
    query = f"?q={QUERY_MARK}&utm_source=newsletter&email={QUERY_MARK}%40example.org"
    headers = {
        "User-Agent": AGENT,
        "X-Forwarded-For": ADDRESS,
        "Cookie": cookies,
        "Referer": referer,
        "Connection": "close",  # after the 500, uvicorn drops the connection
    }
    answers: list[bytes] = []
    with httpx.Client(base_url=base_url, timeout=10) as client:

        def keep(response: httpx.Response) -> None:
            # A page may quote its own query to its visitor (the banner's return link does):
            # that is no storage. An error answer has no reason to.
            if response.status_code >= 300:
                answers.append(response.content + repr(response.headers.raw).encode())

        for method, path, extra, status in [
            ("GET", f"/page/first{query}", {}, 200),
            ("HEAD", f"/page/head{query}", {}, 200),
            ("GET", f"/missing/page{query}", {}, 404),
            ("GET", f"/boom{query}", {}, 500),
            ("GET", f"/page/bot{query}", {"User-Agent": BOT}, 200),
            ("GET", f"/page/v6{query}", {"X-Forwarded-For": f"unknown, {ADDRESS6}"}, 200),
            ("GET", f"/page/port{query}", {"X-Forwarded-For": f"{ADDRESS}:5555"}, 200),
            ("GET", f"/page/gpc{query}", {"Sec-GPC": "1", "DNT": "1"}, 200),
            ("GET", f"/page/badref{query}", {"Referer": f"http://[{REFERER_MARK}"}, 200),
            ("GET", f"/page/badcookie{query}", {"Cookie": f"=={COOKIE_MARK};;;\\x"}, 200),
            ("GET", f"/page/{QUERY_MARK}@example.org", {}, 200),  # an e-mail in the path
        ]:
            response = client.request(method, path, headers={**headers, **extra})
            assert response.status_code == status, (method, path, response.status_code)
            keep(response)
        consent = client.post(
            "/consent",
            json={"action": "accept_all"},
            headers={**headers, "Origin": base_url},
        )
        assert consent.status_code == 200, consent.text
        keep(consent)
        for body, origin, status in [
            (b'{"action": "' + COOKIE_MARK.encode() + b'"}', base_url, 400),  # unknown action
            (b"{not json " + QUERY_MARK.encode(), base_url, 400),
            (b'{"action": "accept_all"}', f"https://{REFERER_MARK}.example", 403),  # CSRF
        ]:
            refused = client.post(
                f"/consent{query}",
                content=body,
                headers={**headers, "Origin": origin, "Content-Type": "application/json"},
            )
            assert refused.status_code == status, refused.text
            keep(refused)
        accepted = {**headers, "Cookie": f"{cookies}; {_consent_cookie(consent)}"}
        keep(client.get(f"/page/accepted{query}", headers=accepted))
        keep(client.get(f"/consent{query}", headers=headers))  # the endpoint's own paths
        keep(client.get(f"/.well-known/gpc.json{query}", headers=headers))

    common = (
        f"User-Agent: {AGENT}\r\nX-Forwarded-For: {ADDRESS}\r\nCookie: {cookies}\r\n"
        "Connection: close\r\n"
    ).encode()
    for raw in [
        # Undecodable bytes: percent-encoded in the path and query, raw (obs-text) in headers.
        b"GET /page/%ff%fe?q=" + QUERY_MARK.encode() + b"%ff HTTP/1.1\r\nHost: example.com\r\n"
        + common + b"Referer: http://\xff" + REFERER_MARK.encode() + b"/\xfe?\xff\r\n"
        + b"X-Forwarded-For: \xff" + ADDRESS.encode() + b"\r\n\r\n",
        # A header line without a colon: the server refuses it before the app sees it.
        b"GET /page/x?" + QUERY_MARK.encode() + b" HTTP/1.1\r\nHost: example.com\r\n"
        + common + b"NoColonHere " + COOKIE_MARK.encode() + b"\r\n\r\n",
        # A Host the app does not serve, spelled as the marker address.
        b"GET /page/host?" + QUERY_MARK.encode() + b" HTTP/1.1\r\nHost: ["
        + ADDRESS6.encode() + b"]:8080\r\n" + common + b"\r\n",
        # An oversized header: the server refuses it before the app sees it.
        b"GET /page/big?" + QUERY_MARK.encode() + b" HTTP/1.1\r\nHost: example.com\r\n"
        + common + b"X-Pad: " + (AGENT_MARK.encode() * 6000) + b"\r\n\r\n",
        # An oversized query string that does reach the app.
        b"GET /page/long?q=" + (QUERY_MARK.encode() * 300) + b" HTTP/1.1\r\nHost: example.com\r\n"
        + common + b"\r\n",
    ]:  # fmt: skip
        answer = _raw(base_url, raw)
        assert answer.startswith(b"HTTP/1.1 "), answer[:200]
        assert not answer.startswith(b"HTTP/1.1 5"), answer[:300]
        if not answer.startswith(b"HTTP/1.1 2"):
            answers.append(answer)
    return answers


def _consent_cookie(response: httpx.Response) -> str:
    for name, value in response.cookies.items():
        return f"{name}={value}"
    raise AssertionError("the consent endpoint set no cookie")


def _find(label: str, data: bytes) -> list[str]:
    found = []
    for marker in [*MARKERS, *SPELLINGS]:
        for encoded in (marker.encode(), marker.encode("utf-16-le"), quote(marker).encode()):
            if encoded in data:
                found.append(f"{marker!r} in {label}")
    found.extend(f"a packed client address in {label}" for packed in PACKED if packed in data)
    return found


def test_no_marker_reaches_any_byte_written_under_a_real_uvicorn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    log_file = tmp_path / "server.log"
    log_config = tmp_path / "log.json"
    log_config.write_text(json.dumps(_log_config(log_file)))
    with uvicorn_server(
        "tests.test_privacy_audit_under_uvicorn:create_app",
        env={"AUDIT_VAR": str(var)},
        factory=True,
        extra_args=("--log-config", str(log_config), "--log-level", "trace"),
    ) as (base_url, _process):
        answers = _traffic(base_url)

    server_log = log_file.read_bytes()
    (tmp_path.parent / "audit-server.log").write_bytes(server_log)
    # The checks are real: trace lines, the access lines and the page's traceback were written.
    assert b"HTTP connection made" in server_log
    assert b'"GET /page/first HTTP/1.1" 200' in server_log
    assert b"RuntimeError: the page failed" in server_log

    caplog.set_level(logging.DEBUG)
    db = var / "analytics.duckdb"
    assert analytics_main(["rollup", "--spool", str(var / "spool"), "--db", str(db)]) == 0
    exports = var / "exports"
    exports.mkdir()
    tables = ["events", "daily_totals", "daily_referrers", "daily_sources", "daily_pages"]
    for table in [*tables, "daily_campaigns"]:
        for fmt in ("csv", "parquet"):
            target = str(exports / f"{table}.{fmt}")
            args = ["export", "--db", str(db), "--table", table, "--format", fmt]
            assert analytics_main([*args, "--output", target]) == 0
    for kind in ("referrers", "pages", "sources", "campaigns", "summary", "trends"):
        for fmt in ("json", "csv", "html", "table"):
            target = str(exports / f"{kind}.{fmt}.out")
            assert (
                analytics_main(
                    ["report", kind, "--db", str(db), "--format", fmt, "--output", target]
                )
                == 0
            )
    pages = asyncio.run(_dashboard_pages(db))

    written = {
        str(path.relative_to(var)): path.read_bytes()
        for path in sorted(var.rglob("*"))
        if path.is_file() and "salts" not in path.parts
    }
    assert any(name.startswith("spool/day=") for name in written)
    assert "receipts.jsonl" in written
    assert written["exports/events.csv"].count(b"\n") >= 14  # the requests were recorded
    leaks = [leak for name, data in written.items() for leak in _find(name, data)]
    # Compressed formats hide plain bytes: every Parquet file and the warehouse, decoded too.
    for name in written:
        if name.endswith(".parquet"):
            table = pq.read_table(var / name)
            decoded = repr(table.to_pylist()) + repr(table.schema.metadata)
            leaks += _find(f"{name} (decoded)", decoded.encode())
    columns = text_columns(db)
    assert ("events", "path") in columns
    for (table_name, column), values in columns.items():
        leaks += _find(f"warehouse {table_name}.{column}", values)
    paths = stored_paths(db)
    # What the requests left is there: the checks above searched real data.
    assert {"/page/first", "/page/head", "/missing/page", "/boom", "/page/:redacted"} <= paths
    leaks += _find("the server's log", server_log)
    leaks += [leak for n, page in enumerate(pages) for leak in _find(f"dashboard page {n}", page)]
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    leaks += _find("CLI log records", ours.encode())
    out = capsys.readouterr()
    leaks += _find("CLI output", (out.out + out.err).encode())
    assert not leaks, "\n".join(leaks)
    # Nor may an error answer (a 400 or 404 quoting the request).
    assert len(answers) >= 3
    answer_leaks = [leak for n, a in enumerate(answers) for leak in _find(f"answer {n}", a)]
    assert not answer_leaks, "\n".join(answer_leaks)


async def _dashboard_pages(db: Path) -> list[bytes]:
    app = dashboard(db, basic=(USER, PASSWORD), min_visitors=1)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4444))
    pages: list[bytes] = []
    async with httpx.AsyncClient(
        transport=transport, base_url="http://example.com", auth=(USER, PASSWORD)
    ) as client:
        for path in [
            "/",
            "/api/sites",
            "/api/timeseries",
            "/api/referrers",
            "/api/sources",
            "/api/pages",
            "/api/campaigns",
            "/referrer?referrer=forum.example.net",
            "/api/referrer-pages?referrer=forum.example.net",
        ]:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            pages.append(response.content)
    # The data is there: the referrer page of forum.example.net shows its registrable domain.
    assert any(b"example.net" in page for page in pages)
    return pages
