"""Second bug hunt on the live dashboard: what the pages left unsaid, credentials a
standards-following browser sends, and waits and log lines nobody asked for. Each test failed
before its fix."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.requests import Request

from analytics.dashboard import dashboard
from analytics.dashboard.snapshot import FIRST_LOAD_WAIT
from analytics.reports import OTHER
from analytics.warehouse import Warehouse
from tests.dashboard_support import CLOCK, PASSWORD, TINY_SITE, USER, build_warehouse, client
from tests.warehouse_support import events_for_days, fixed_clock, write_events

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-review2"), per_day=20)


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


def get(
    app: Any,
    path: str,
    params: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = (USER, PASSWORD),
) -> httpx.Response:
    async def call() -> httpx.Response:
        async with client(app, auth=auth) as http:
            response: httpx.Response = await http.get(path, params=params, headers=headers)
            return response

    return asyncio.run(call())


def section_notes(page: str, kind: str) -> list[str]:
    found = re.search(rf'<section id="{kind}">.*?</section>', page)
    assert found, kind
    return re.findall(r"<li>(.*?)</li>", found.group(0))


# -- the overview's tables explain what they withhold --------------------------------------------
# The overview kept only the report notes starting "Rows with"/"External": an (other) row whose
# numbers were withheld showed bare dashes without the note the README promises ("with a
# note"), and a table cut at `limit` rows never said that more rows exist.


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages"])
def test_an_other_row_without_numbers_is_explained_on_the_page(db: Path, kind: str) -> None:
    params = {**APRIL, "site": TINY_SITE}
    api = get(app_for(db, min_visitors=5), f"/api/{kind}", params).json()
    withheld = f"{OTHER} itself has fewer than 5 visitors"
    assert any(note.startswith(withheld) for note in api["notes"])
    notes = section_notes(get(app_for(db, min_visitors=5), "/", params).text, kind)
    assert any(note.startswith(withheld) for note in notes), notes


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages", "campaigns"])
def test_a_table_cut_at_the_limit_says_so(db: Path, kind: str) -> None:
    params = {**APRIL, "limit": "1"}
    api = get(app_for(db), f"/api/{kind}", params).json()
    [cut] = [note for note in api["notes"] if "more rows not shown" in note]
    assert cut in section_notes(get(app_for(db), "/", params).text, kind)


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages", "campaigns"])
def test_the_overview_still_leaves_out_the_general_notes(db: Path, kind: str) -> None:
    notes = section_notes(get(app_for(db), "/", APRIL).text, kind)
    assert not any(note.startswith(("Range ", "Visitors are sums")) for note in notes)


# -- Basic credentials in another Unicode normal form --------------------------------------------
# The challenge says charset="UTF-8", which per RFC 7617 §2.1 tells browsers to send the user
# and password in Normalization Form C. A password configured in NFD (as macOS file names and
# some keyboards produce "é") was compared byte for byte, so a standards-following browser
# typing the right password was refused with 401 forever.

NFC_USER, NFD_USER = "ren\u00e9e", "rene\u0301e"
NFC_PASSWORD, NFD_PASSWORD = "caf\u00e9 \u00e0 la cr\u00e8me", "cafe\u0301 a\u0300 la cre\u0300me"


@pytest.mark.parametrize(
    ("configured", "sent"),
    [
        ((NFD_USER, NFD_PASSWORD), (NFC_USER, NFC_PASSWORD)),
        ((NFC_USER, NFC_PASSWORD), (NFD_USER, NFD_PASSWORD)),
        ((NFC_USER, NFD_PASSWORD), (NFD_USER, NFC_PASSWORD)),
        ((NFC_USER, NFC_PASSWORD), (NFC_USER, NFC_PASSWORD)),
        (
            ("\u212bngstr\u00f6m", "pw-\u00c5-\u00f6-long"),
            ("\u00c5ngstr\u00f6m", "pw-A\u030a-o\u0308-long"),
        ),
    ],
)
def test_basic_credentials_match_in_any_normal_form(
    db: Path, configured: tuple[str, str], sent: tuple[str, str]
) -> None:
    app = dashboard(db, basic=configured)
    assert get(app, "/api/sites", auth=sent).status_code == 200


@pytest.mark.parametrize(
    "sent",
    [
        (NFC_USER, NFC_PASSWORD + "x"),
        ("renee", NFC_PASSWORD),
        (NFC_USER, "cafe a la creme"),  # accents are not folded away, only composed
    ],
)
def test_a_different_password_in_nfc_is_still_refused(db: Path, sent: tuple[str, str]) -> None:
    app = dashboard(db, basic=(NFD_USER, NFD_PASSWORD))
    response = get(app, "/api/sites", auth=sent)
    assert response.status_code == 401
    assert response.text == "Authentication required.\n"


# -- the first requests while the rollup holds the warehouse -------------------------------------
# Before the first copy exists, a request waits up to FIRST_LOAD_WAIT for the rollup to let go,
# then answers 503. Requests arriving together queued on the refresh lock and each then waited
# its own FIRST_LOAD_WAIT in turn: the eighth 503 came after ~12 s instead of ~1.5 s.

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # a writer, as a running rollup is
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def test_requests_arriving_together_share_one_wait_for_the_rollup(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "analytics.duckdb"
    copy.write_bytes(db.read_bytes())
    app = app_for(copy)

    async def together() -> list[tuple[int, float]]:
        async with client(app) as http:

            async def one() -> tuple[int, float]:
                started = time.monotonic()
                response = await http.get("/api/sites")
                return response.status_code, time.monotonic() - started

            return await asyncio.gather(*(one() for _ in range(6)))

    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(copy)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        answers = asyncio.run(together())
        assert holder.stdin is not None
        holder.stdin.close()
    assert [status for status, _ in answers] == [503] * 6
    assert max(seconds for _, seconds in answers) < FIRST_LOAD_WAIT + 1.5, answers
    # Once the rollup lets go, the very next request loads the copy.
    assert get(app, "/api/sites").status_code == 200


# -- what is logged when the site's own authorize() raises --------------------------------------
# The refusal was logged with logger.exception: the exception's message and traceback went to
# the log. A site checking its session cookie with itsdangerous gets BadSignature("Signature
# b'<the cookie's signature>' does not match"), so a stranger's forged cookie value, or a
# staff member's expired one, reached a log line (cookiewall's rule: no cookie value in logs).

SIGNED = URLSafeTimedSerializer("the site's secret").dumps({"staff": 1})
FORGED_SIGNATURE = "cookievaluesignaturethatmustnotbelogged"
FORGED = SIGNED.rsplit(".", 1)[0] + "." + FORGED_SIGNATURE


def _check_session(request: Request) -> bool:
    session = URLSafeTimedSerializer("the site's secret").loads(
        request.cookies.get("session", ""), max_age=-1
    )
    return bool(session["staff"])


def _bearer_in_message(request: Request) -> bool:
    raise ValueError(f"unknown credentials {request.headers['authorization']}")


@pytest.mark.parametrize(
    ("authorize", "headers", "secret"),
    [
        (
            _check_session,
            {"Cookie": f"session={FORGED}"},
            "cookievaluesignaturethatmustnotbelogged",
        ),
        (_check_session, {"Cookie": f"session={SIGNED}"}, SIGNED.rsplit(".", 1)[1]),
        (_bearer_in_message, {"Authorization": "Bearer do-not-log-me-1234"}, "do-not-log-me"),
    ],
)
def test_a_failing_authorize_is_logged_without_what_the_request_carried(
    db: Path,
    caplog: pytest.LogCaptureFixture,
    authorize: Any,
    headers: dict[str, str],
    secret: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="analytics")
    response = get(dashboard(db, authorize=authorize), "/api/sites", headers=headers, auth=None)
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name.startswith("analytics.dashboard")]
    assert records
    logged = "\n".join(logging.Formatter().format(record) for record in records)
    assert secret not in logged
    assert "authorize() raised" in logged
    # What an operator needs to find the fault is still there: the type and where it was raised.
    assert re.search(r"(BadSignature|BadTimeSignature|SignatureExpired|ValueError)", logged)
    assert "test_dashboard_review2.py" in logged or "itsdangerous" in logged


# -- revalidating the stylesheet through a proxy -------------------------------------------------
# If-None-Match was compared as one exact string. RFC 9110 §13.1.2 compares it weakly and
# allows a list or "*": behind nginx with gzip (which turns the ETag into W/"...") or a cache
# that sends several tags, the stylesheet was sent in full on every revalidation.


def css_etag(db: Path) -> str:
    etag = get(app_for(db), "/static/dashboard.css").headers["etag"]
    assert etag.startswith('"')
    return etag


@pytest.mark.parametrize(
    "template",
    ["{etag}", "W/{etag}", '"older", {etag}', 'W/"older",W/{etag}', "*", " {etag} "],
)
def test_the_stylesheet_revalidates_with_any_matching_tag(db: Path, template: str) -> None:
    header = template.format(etag=css_etag(db))
    response = get(app_for(db), "/static/dashboard.css", headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == css_etag(db)
    assert response.headers["cache-control"] == "private, max-age=3600"


@pytest.mark.parametrize(
    "template", ['"older"', 'W/"older", "other"', "{bare}", "W/{bare}", '"{bare}x"', ""]
)
def test_the_stylesheet_is_sent_for_any_other_tag(db: Path, template: str) -> None:
    header = template.format(bare=css_etag(db).strip('"'))
    response = get(app_for(db), "/static/dashboard.css", headers={"If-None-Match": header})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert b"body" in response.content


# -- tokens no client can send ------------------------------------------------------------------
# The token was only checked for length and control characters. One with a space at either end
# can never match (servers trim header values, and so does the bearer parser), and one with
# non-ASCII characters matches only clients that send UTF-8 bytes (curl), not those that send
# Latin-1 (Python's http.client, requests) or refuse (browsers' fetch). Both locked scripts out
# with a 401 and no hint; they are configuration errors now.


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (" " + "t" * 20, "must not start or end with whitespace"),
        ("t" * 20 + " ", "must not start or end with whitespace"),
        ("\u00a0" + "t" * 20, "must not start or end with whitespace"),
        ("token-with-\u00df-is-long", "printable ASCII"),
        ("t" * 20 + "\u200b", "printable ASCII"),
    ],
)
def test_a_token_no_client_can_send_is_a_value_error(
    tmp_path: Path, token: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dashboard(tmp_path / "analytics.duckdb", token=token)


@pytest.mark.parametrize("token", ["t" * 16, "with inner spaces is fine!", "A-Za-z0-9._~+/=" * 2])
def test_a_token_of_printable_ascii_reads_the_api(db: Path, token: str) -> None:
    app = dashboard(db, token=token)
    response = get(app, "/api/sites", headers={"Authorization": f"Bearer {token}"}, auth=None)
    assert response.status_code == 200


# -- how old the data is -------------------------------------------------------------------------
# Every page said "Data as of <when this process copied the file>": a dashboard restarted today
# over a warehouse whose cron stopped a month ago claimed today's data. The time that tells how
# current the numbers are is the last ingest (ingested_segments.ingested_at, the rollup's clock).


def freshness(page: str) -> str:
    found = re.search(r'<p class="muted">(Data as of.*?|No events.*?)</p>', page)
    assert found, page[-600:]
    return found.group(1)


@pytest.mark.parametrize("path", ["/", "/referrer"])
def test_the_pages_date_the_data_by_the_last_ingest(db: Path, path: str) -> None:
    line = freshness(get(app_for(db), path, {**APRIL, "referrer": "google.com"}).text)
    # build_warehouse rolls up with its clock at 2026-05-01 06:00 UTC; the copy is made now.
    assert line.startswith("Data as of 2026-05-01 06:00:00 UTC"), line
    assert f"{datetime.now(UTC):%Y-%m-%d} " in line  # when the copy was made, said as such


def test_the_api_gives_the_last_ingest(db: Path) -> None:
    body = get(app_for(db), "/api/sites").json()
    assert body["last_ingest"] == "2026-05-01T06:00:00+00:00"
    assert body["data_as_of"].startswith(f"{datetime.now(UTC):%Y-%m-%d}T")


def test_a_warehouse_without_events_says_so(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    Warehouse(tmp_path / "analytics.duckdb", clock=fixed_clock(CLOCK)).run(tmp_path / "spool")
    app = app_for(tmp_path / "analytics.duckdb")
    assert freshness(get(app, "/").text).startswith("No events ingested yet")
    assert get(app, "/api/sites").json()["last_ingest"] is None


# -- a referrer written the way a URL bar or a script writes it ----------------------------------
# The warehouse keys referrers by the canonical host `normalise_host` gives the Referer header
# (Unicode NFC, lower case, no "www.", no trailing dot). The `referrer` parameter was only
# lower-cased, so the Punycode form, a decomposed accent, "www." or a trailing dot found
# nothing: a 200 with zero pageviews, as if the referrer had never sent anyone.

IDN = "b\u00fccher.example"


@pytest.fixture(scope="module")
def idn_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-review2-idn")
    rng = random.Random(5)
    days = [date(2026, 4, 10), date(2026, 4, 11)]
    events = [
        event._replace(
            referrer_host=IDN,
            referrer_domain=IDN,
            referrer_medium="referral",
            referrer_source=IDN,
            is_bot=False,
        )
        for event in events_for_days(rng, days, 30, site="example.com")
    ]
    events += events_for_days(rng, days, 30, site="example.com")
    write_events(folder / "spool", events)
    db = folder / "analytics.duckdb"
    Warehouse(db, clock=fixed_clock(CLOCK), raw_retention_days=60).run(folder / "spool")
    return db


@pytest.mark.parametrize(
    "written",
    [
        IDN,
        "xn--bcher-kva.example",
        "B\u00dcCHER.example",
        "bu\u0308cher.example",
        "www.b\u00fccher.example",
        "b\u00fccher.example.",
        "XN--BCHER-KVA.EXAMPLE.",
    ],
)
def test_a_referrer_is_found_however_its_host_is_written(idn_db: Path, written: str) -> None:
    app = app_for(idn_db)
    series = get(app, "/api/timeseries", {**APRIL, "referrer": written}).json()
    assert series["referrer"] == IDN
    assert series["totals"]["pageviews"] == 60
    pages = get(app, "/api/referrer-pages", {**APRIL, "referrer": written}).json()
    assert sum(int(row["pageviews"]) for row in pages["rows"]) == 60
    page = get(app, "/referrer", {**APRIL, "referrer": written}).text
    assert f"<h2>Referrer: {IDN}</h2>" in page
    assert '<div>Pageviews</div><div class="value">60</div>' in page


@pytest.mark.parametrize(("written", "key"), [("(other)", "(other)"), ("203.0.113.9", "(ip)")])
def test_a_referrer_that_is_no_host_name_is_kept_as_written(
    idn_db: Path, written: str, key: str
) -> None:
    body = get(app_for(idn_db), "/api/timeseries", {**APRIL, "referrer": written}).json()
    assert body["referrer"] == key
