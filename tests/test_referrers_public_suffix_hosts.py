"""A `Referer` whose host is itself a public suffix. One of the ICANN section (`com`, `co.uk`,
`рф`, `foo.kawasaki.jp` under a wildcard rule) is a name no one registers, so no page there
linked: a forged header, counted as direct (before: a referrer `com` in every table). One of
the private section (`github.io`, `s3.amazonaws.com`, `blogspot.com`) is the platform's own
site: its own domain, as before. `www.` is dropped only where it names the same site as the
rest: `www.com` is a site (before: stored as `com`). Names no rule lists (`localhost`,
`intranet`) stay intranet referrers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.recorder import Recorder
from analytics.referrers import DIRECT, Referrer, normalise_host, parse_referrer, referrer_parser
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get
from tests.recording_support import SITE, capture, spooled
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events


@pytest.mark.parametrize(
    "raw",
    [
        b"https://com/",
        b"https://COM./page?q=1",
        b"http://com:8080/",
        b"https://co.uk/",
        b"https://uk/",
        b"https://xn--p1ai/",  # .рф in Punycode
        "https://рф/".encode(),
        b"https://foo.kawasaki.jp/",  # *.kawasaki.jp: every name under it is a suffix
        b"https://com.au/",
    ],
)
def test_a_host_that_is_an_icann_suffix_is_direct(raw: bytes) -> None:
    assert parse_referrer(raw, SITE) == DIRECT


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        (b"https://github.io/", "github.io"),
        (b"https://s3.amazonaws.com/bucket/file", "s3.amazonaws.com"),
        (b"https://blogspot.com/", "blogspot.com"),
        (b"https://localhost:3000/", "localhost"),
        (b"http://intranet/wiki", "intranet"),
        (b"https://city.kawasaki.jp/", "city.kawasaki.jp"),  # the wildcard's exception
    ],
)
def test_a_private_suffix_or_an_unlisted_name_is_its_own_domain(raw: bytes, host: str) -> None:
    assert parse_referrer(raw, SITE) == Referrer(host, host, "referral", host)


@pytest.mark.parametrize(
    ("raw", "host", "domain"),
    [
        (b"https://www.com/", "www.com", "www.com"),
        (b"https://WWW.COM./", "www.com", "www.com"),
        (b"https://www.co.uk/", "www.co.uk", "www.co.uk"),
        (b"https://www.github.io/", "www.github.io", "www.github.io"),  # a user named www
        (b"https://sub.www.com/", "sub.www.com", "www.com"),
        # Controls: below a registrable domain, www. still names the same site.
        (b"https://www.bbc.co.uk/", "bbc.co.uk", "bbc.co.uk"),
        (b"https://www.foo.github.io/", "foo.github.io", "foo.github.io"),
    ],
)
def test_www_is_kept_where_it_is_the_registered_name(raw: bytes, host: str, domain: str) -> None:
    assert parse_referrer(raw, SITE) == Referrer(host, domain, "referral", domain)


def test_www_com_as_the_site_is_internal_and_com_is_not() -> None:
    parse = referrer_parser("www.com")
    assert parse(b"https://www.com/a").medium == "internal"
    assert parse(b"https://shop.www.com/").medium == "internal"
    assert parse(b"https://com/") == DIRECT
    assert normalise_host("www.com") == "www.com"
    assert normalise_host("www.example.com") == "example.com"


def test_the_recorder_writes_such_a_visit_as_direct(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE)
    try:
        recorder.add(capture("/from-com", referer=b"https://com/"))
        recorder.add(capture("/from-www-com", referer=b"https://www.com/"))
        recorder.add(capture("/from-github", referer=b"https://github.io/"))
        rows = {row["path"]: row for row in spooled(recorder)}
    finally:
        recorder.close()
    fields = ("referrer_host", "referrer_domain", "referrer_medium", "referrer_source")
    seen = {path: tuple(row[f] for f in fields) for path, row in rows.items()}
    assert seen == {
        "/from-com": (None, None, "direct", None),
        "/from-www-com": ("www.com", "www.com", "referral", "www.com"),
        "/from-github": ("github.io", "github.io", "referral", "github.io"),
    }


def test_the_dashboard_reads_such_an_address_as_the_recorder_does(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    visit = DIRECT_VISIT._replace(
        ts=datetime(2026, 11, 2, 12, tzinfo=UTC),
        visitor_id=1,
        referrer_host="www.com",
        referrer_domain="www.com",
        referrer_medium="referral",
        referrer_source="www.com",
    )
    write_events(tmp_path / "spool", [visit])
    Warehouse(db, clock=fixed_clock(datetime(2026, 11, 5, tzinfo=UTC))).run(tmp_path / "spool")
    app = app_for(db)
    window = {"from": "2026-11-01", "to": "2026-11-04"}
    for pasted in ("https://www.com/some/page", "www.com", "WWW.COM."):
        answer = get(app, "/api/timeseries", {**window, "referrer": pasted})
        assert answer.status_code == 200, answer.text
        assert answer.json()["referrer"] == "www.com"
        assert answer.json()["totals"]["pageviews"] == 1
    refused = get(app, "/api/timeseries", {**window, "referrer": "https://com/"})
    assert refused.status_code == 400
    assert "public suffix" in refused.json()["error"]
