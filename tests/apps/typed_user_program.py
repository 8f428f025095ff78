"""A site written against the README's Python API, as a careful user writes it."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route

import analytics
import analytics.accesslog
import cookiewall
from analytics import Recorder, RecorderStats, TrafficMiddleware, Warehouse
from analytics.dashboard import dashboard
from analytics.database import WAREHOUSE_SCHEMA_VERSION, interrupt_all
from analytics.errors import (
    AnalyticsError,
    ExportError,
    Interrupted,
    WarehouseError,
    WarehouseLockedError,
)
from analytics.export import export_table, output_folder_problem
from analytics.navigation import SCRIPT_INTEGRITY, script_tag
from analytics.objectstore import SegmentUploader
from analytics.render import render
from analytics.reports import (
    Report,
    ReportBusyError,
    ReportError,
    ReportQuery,
    run_report,
    stored_key,
)
from analytics.spark import load_spark_rollups
from analytics.timezones import local_date
from cookiewall import (
    Category,
    Consent,
    ConsentMiddleware,
    CookieRule,
    Policy,
    ReceiptLog,
    consent_mode,
    get_consent,
    get_gate,
)
from cookiewall.banner import SCRIPT_HASH_SOURCE
from cookiewall.banner import SCRIPT_INTEGRITY as BANNER_INTEGRITY
from cookiewall.middleware import MAX_CLEARED_VALUES, MAX_CONSENT_VALUES

EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "cookiewall.toml"

KEYS = ["current-key-0123456789", "previous-key-0123456789"]


def make_policy() -> Policy:
    return Policy(
        version="2026-11-28",
        categories=[
            Category("necessary", required=True, description="Login and this choice."),
            Category("preferences", description="Your settings."),
            Category(
                "analytics", description="Counting visits.", consent_mode=["analytics_storage"]
            ),
            Category("marketing", description="Ads.", gpc_opt_out=True),
        ],
        cookies=[
            CookieRule("session", "necessary", purpose="login"),
            CookieRule("theme", "preferences"),
            CookieRule("_ga*", "analytics", domain=".example.com"),
            CookieRule("ad_id", "marketing", path="/shop"),
        ],
        consent_max_age=timedelta(days=180),
        unknown_cookies="block",
        texts={"de": {"title": "Cookies auf example.com", "labels": {"analytics": "Statistik"}}},
    )


async def home(request: Request) -> HTMLResponse:
    consent: Consent = request.state.consent
    modes: dict[str, str] = consent_mode(POLICY, consent)
    return HTMLResponse(f"<html><body>{sorted(modes)} {script_tag('/_navigation')}</body></html>")


async def stats(request: Request) -> JSONResponse:
    gate: ConsentMiddleware = get_gate(request)
    return JSONResponse(gate.statistics())


POLICY = make_policy()
CSP = f"script-src 'sha256-abc' {SCRIPT_HASH_SOURCE}; style-src 'self'"

api = FastAPI()


@api.get("/prefs")
def prefs(consent: Consent = Depends(get_consent)) -> dict[str, bool]:  # noqa: B008
    may: bool = consent.allows("preferences")
    return {"may_remember_theme": may}


@api.get("/internal/consent-stats")
def consent_stats(gate: ConsentMiddleware = Depends(get_gate)) -> dict[str, object]:  # noqa: B008
    return gate.statistics()


def build_site(var: Path) -> tuple[Starlette, Recorder]:
    receipts = ReceiptLog(var / "receipts.jsonl", max_bytes=1 << 20, backups=2, keep_for=None)
    recorder = Recorder(
        var / "spool",
        site="example.com",
        flush_interval=10.0,
        max_buffer=1000,
        exclude_paths=["/admin/*"],
        trusted_proxies=["10.0.0.0/8"],
        record="pages",
        visitor_hashing=True,
    )
    site = Starlette(
        routes=[Route("/", home), Route("/stats", stats)],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=POLICY,
                secret_key=KEYS,
                inject_banner=True,
                receipts=receipts,
            ),
            Middleware(TrafficMiddleware, recorder=recorder, navigation_beacon="/_navigation"),
        ],
    )
    return site, recorder


async def visit(app: Starlette) -> int:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as client:
        page = await client.get("/", headers={"accept": "text/html"})
        await client.post(
            "/consent", data={"action": "accept_all"}, headers={"origin": "http://example.com"}
        )
        await client.get("/stats")
        return page.status_code


def analyse(var: Path, recorder: Recorder) -> None:
    written: int = recorder.flush()
    counts: RecorderStats = recorder.stats
    recorder.close()
    db = var / "analytics.duckdb"
    warehouse: Warehouse = analytics.Warehouse(db, timezone="UTC", raw_retention_days=90)
    result = warehouse.run(var / "spool")
    print(written, counts.recorded, result.summary(), warehouse.today().isoformat())
    query = ReportQuery(kind="referrers", compare=True, today=datetime.now(UTC).date())
    try:
        report: Report = run_report(db, query, lock_timeout=10)
    except ReportBusyError:
        return
    except ReportError as error:
        print(f"report refused: {error}", file=sys.stderr)
        raise
    text: str = render(report, "table")
    print(text.splitlines()[0], stored_key(r"\(other)"))
    problem: str | None = output_folder_problem(var / "out.csv")
    assert problem is None
    rows: int = export_table(db, "daily_pages", "csv", var / "pages.csv")
    print("exported", rows)
    try:
        export_table(db, "no_such_table", "csv", var / "x.csv")
    except ExportError as error:
        print("export refused:", error)
    for kind in (AnalyticsError, WarehouseError, WarehouseLockedError, Interrupted):
        assert issubclass(kind, Exception)


def the_other_names() -> None:
    """Names the README mentions in passing, used as the README writes them."""
    from_file: Policy = Policy.from_toml(EXAMPLE_POLICY)
    config: dict[str, object] = analytics.accesslog.LOG_CONFIG
    server = uvicorn.Config(api, log_config=analytics.accesslog.LOG_CONFIG, lifespan="on")
    stopped: int = interrupt_all()
    day: date = local_date(datetime.now(UTC), "Europe/Berlin")
    schema: int = WAREHOUSE_SCHEMA_VERSION
    limits: int = MAX_CLEARED_VALUES + MAX_CONSENT_VALUES
    load = load_spark_rollups  # needs Spark's output folder: not run here
    print(from_file.version, len(config), server.lifespan, stopped, day, schema, limits)
    print(BANNER_INTEGRITY[:7], load.__name__)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        site, recorder = build_site(var)
        status = asyncio.run(visit(site))
        assert status == 200, status
        app = Starlette(
            routes=[
                Mount(
                    "/analytics",
                    app=dashboard(
                        str(var / "analytics.duckdb"),
                        basic=(
                            "analyst",
                            os.environ.get("ANALYTICS_PASSWORD", "pw-0123456789abcdef"),
                        ),
                        token=os.environ.get("ANALYTICS_TOKEN", "token-0123456789abcdef"),
                        min_visitors=5,
                    ),
                ),
                Mount("/", app=site),
            ]
        )
        assert app is not None
        gate = ConsentMiddleware(api, policy=POLICY, secret_key=KEYS)
        assert isinstance(gate, cookiewall.ConsentMiddleware)
        analyse(var, recorder)
        # Never started: there is no object storage here (the README chains .start()).
        uploader = SegmentUploader(var / "spool", "s3://analytics-bucket/example.com/spool")
        uploader.notify()
        uploader.stop()
        uploaded: int = uploader.stats.uploaded
        assert uploaded == 0
        print(SCRIPT_INTEGRITY[:7], CSP[:10], date.today() > date(2000, 1, 1))
        the_other_names()


if __name__ == "__main__":
    main()
