"""Helpers shared by the Django and Flask integration tests (tests/test_django_integration.py,
tests/test_flask_integration.py): the cookies an answer sets, the banner's no-JavaScript forms,
the rollup of a spool, and what of a visitor a spool holds."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq

from analytics.warehouse import Warehouse
from tests.support import uvicorn_server

# Two real browsers' user agents, each with a word of its own that must never reach the spool.
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 uamark-3f9e"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 uamark-8b21"
)
BANNER = "data-cookiewall"

_BANNER_FORM = re.compile(
    r'<form class="cookiewall-form" method="post" action="([^"]+)"[^>]*>'
    r'<input type="hidden" name="next" value="([^"]*)">'
    r'(?:<input type="hidden" name="policy_version" value="[^"]*">)?'
    r'<button class="cookiewall-button" type="submit" name="action" value="([a-z_]+)"'
)


def visitor(base: str, user_agent: str = FIREFOX) -> httpx.Client:
    """A browser: its own cookie jar, its user agent, same-site requests."""
    return httpx.Client(
        base_url=base,
        headers={"User-Agent": user_agent, "Accept": "text/html", "Origin": base},
        timeout=10,
    )


def consent_shown(page: str) -> str:
    """The consent summary the test apps' pages print (`<p id="consent">…</p>`)."""
    found = re.search(r'<p id="consent">([a-z]+)</p>', page)
    assert found, page[:300]
    return found.group(1)


def cookie_names(response: httpx.Response) -> set[str]:
    return {h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")}


def banner_forms(page: str) -> dict[str, tuple[str, str]]:
    """The injected banner's one-button forms, as a browser without JavaScript submits them:
    {action: (the form's address, its hidden `next`)}."""
    return {
        action: (html.unescape(target), html.unescape(next_path))
        for target, next_path, action in _BANNER_FORM.findall(page)
    }


def daily_pages(spool: Path, db: Path) -> dict[str, tuple[int, int]]:
    """Ingest and roll up `spool` into the warehouse `db`: {path: (pageviews, visitors)}."""
    result = Warehouse(db).run(spool)
    assert result.ingest.quarantined == ()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT path, sum(pageviews), sum(visitors) FROM daily_pages GROUP BY path"
        ).fetchall()
    return {path: (int(views), int(visitors)) for path, views, visitors in rows}


def spooled_consents(spool: Path) -> list[tuple[str, str]]:
    """(path, consent) of every spooled event, in the order the segments hold them."""
    rows: list[tuple[str, str]] = []
    for path in sorted(spool.rglob("*.parquet")):
        rows += [(r["path"], r["consent"]) for r in pq.read_table(path).to_pylist()]
    return rows


def leaks_in(spool: Path, secrets: Iterable[str]) -> list[str]:
    """Every secret found in a spool file's bytes, or in the decoded values and metadata of a
    Parquet file (compression hides plain bytes). The daily salts are left aside."""
    found: list[str] = []
    for path in sorted(p for p in spool.rglob("*") if p.is_file()):
        if "salts" in path.relative_to(spool).parts:
            continue
        data = [path.read_bytes()]
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            data.append((repr(table.to_pylist()) + repr(table.schema.metadata)).encode())
        found += [f"{s!r} in {path.name}" for s in secrets for d in data if s.encode() in d]
    return found


def two_visitors_then_stop(app: str, env: dict[str, str]) -> list[dict[str, str]]:
    """Serve the `app` factory under a real uvicorn and send it two visitors: Firefox (a page
    with a query string, the streamed page, JSON, "accept all", the page again) and Chrome (a
    page, the banner endpoint). Then stop the server with SIGTERM, so lifespan shutdown
    flushes the recorder. Returns each visitor's cookie jar (name -> value)."""
    jars: list[dict[str, str]] = []
    with uvicorn_server(app, factory=True, env=env) as (base, _):
        with visitor(base, FIREFOX) as first:
            first.get("/?q=querymark-51c7")
            first.get("/stream")
            first.get("/prefs")  # JSON: not a page view
            first.post("/consent", json={"action": "accept_all"})  # the gate's: not one
            first.get("/")
            jars.append({c.name: c.value or "" for c in first.cookies.jar})
        with visitor(base, CHROME) as second:
            second.get("/")
            second.get("/consent/banner")
            jars.append({c.name: c.value or "" for c in second.cookies.jar})
    return jars


def assert_two_visitors_recorded_and_nothing_of_them_kept(
    spool: Path, db: Path, jars: list[dict[str, str]], preference_value: str
) -> None:
    """What `two_visitors_then_stop` must leave: three views of `/` by two visitors and one
    of `/stream`, their consent as it was at each, and no address, query string, user agent
    or cookie value anywhere in the spool."""
    assert daily_pages(spool, db) == {"/": (3, 2), "/stream": (1, 1)}
    assert spooled_consents(spool) == [
        ("/", "undecided"),
        ("/stream", "undecided"),
        ("/", "all"),
        ("/", "undecided"),
    ]
    secrets = [
        "127.0.0.1",
        "querymark-51c7",
        "uamark-3f9e",
        "uamark-8b21",
        "Firefox",
        "Chrome",
        preference_value,
        *(value for jar in jars for value in jar.values()),
    ]
    assert leaks_in(spool, secrets) == []
