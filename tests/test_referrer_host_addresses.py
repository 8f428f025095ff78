"""An Internet address spelled inside a referrer's host name is stored as `(ip)`, as an IP
literal is; and a spam-list entry that is a public suffix names that host alone.

An IP literal `Referer` was already `(ip)`, but the same address written into a host name
(wildcard DNS such as nip.io and sslip.io, cloud and ISP reverse names) was stored as sent:
in events.referrer_host, and where the registrable domain holds it (a name under a private
suffix such as `compute-1.amazonaws.com`) in daily_referrer_domains and daily_referrers too,
which are kept for ever. The domain stays when only labels below it hold the address
(`nip.io`, `comcast.net`: a service or a provider, no one's machine).

The spam list names `kharkov.ua`, a city's second-level domain under which anyone registers:
matched with its subdomains, every real visit from a site registered there was dropped.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics.recorder import Recorder
from analytics.referrers import (
    SPAM_HOSTS,
    SPAM_SUFFIX_HOSTS,
    parse_referrer,
    referrer_parser,
)
from analytics.warehouse import Warehouse
from tests.recording_support import SITE, capture, spooled


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        # wildcard DNS: the address in labels below the service's domain
        (b"http://203.0.113.7.nip.io/", "nip.io"),
        (b"http://app.203.0.113.7.nip.io:8080/x", "nip.io"),
        (b"http://app-203-0-113-7.nip.io/", "nip.io"),
        (b"https://203-0-113-7.sslip.io/", "sslip.io"),
        (b"https://www-192-168-0-1.sslip.io/", "sslip.io"),
        (b"https://2a01-4f8-c17-b8f--2.sslip.io/", "sslip.io"),  # IPv6, `--` for `::`
        (b"https://2001-db8--1.sslip.io/", "sslip.io"),  # 2001:db8::1, three groups
        (b"https://2001-db8-0-0-0-0-0-1.sslip.io/", "sslip.io"),  # all eight groups
        # ISP and cloud reverse names under the provider's domain
        (b"http://c-73-15-22-9.hsd1.ca.comcast.net/", "comcast.net"),
        (b"http://pool-71-105-12-34.nycmny.fios.verizon.net/", "verizon.net"),
        (b"http://ip68-1-2-3.ph.ph.cox.net/", "cox.net"),  # the number glued to its word
        (b"http://host86-123-45-67.range86-123.btcentralplus.com/", "btcentralplus.com"),
        (b"http://ip-10-0-0-1.ec2.internal/", "ec2.internal"),
        (b"http://7.113.0.203.bc.googleusercontent.com/", "googleusercontent.com"),
        # the registrable domain holds it: `compute-1.amazonaws.com` is a private suffix
        (b"http://ec2-203-0-113-7.compute-1.amazonaws.com/", "(ip)"),
        (b"http://EC2-203-0-113-7.Compute-1.AmazonAWS.com./", "(ip)"),
        (b"http://10.0.0.1.example/", "(ip)"),  # unknown suffix: `1.example` holds a part
        (b"http://203-0-113-7.example.org/", "example.org"),
        (b"http://203-0-113-7.xn--p1ai/", "(ip)"),  # the domain is `203-0-113-7.рф`
    ],
)
def test_an_address_spelled_in_the_host_is_stored_as_ip(raw: bytes, domain: str) -> None:
    found = parse_referrer(raw, SITE)
    assert (found.host, found.domain, found.source) == ("(ip)", domain, domain)
    assert found.medium == "referral"
    assert not found.spam
    assert referrer_parser(SITE)(raw) == found  # the cached parser the recorder uses


@pytest.mark.parametrize(
    "host",
    [
        "v1-2-3-4.example.com",  # a version, as the path redactor reads `v1.2.3.4`
        "release-1-2-3-4.example.com",
        "v1.2.3.example.com",
        "1-2-3-4-5.example.com",  # five numbers: no quad
        "2024-11-28.example.com",  # a date
        "route-66.example.com",
        "web2-0.example.com",
        "s3-us-west-2.amazonaws.com",
        "s3.dualstack.us-east-1.amazonaws.com",
        "deploy-preview-42--mysite.netlify.app",  # Netlify's `--`: no IPv6
        "cafe--bead.example.com",  # hex words, no digit
        # two hex groups around `--`: registered names, not addresses (a global IPv6
        # address has three groups or more; `::1` is no one's)
        "abc--123.com",
        "cafe--1.example",
        "a--1.example",
        "911-1-2.example.com",
        "300-1-2-3.example.com",  # 300 is no octet
        "4chan.org",
        "123movies.example",
    ],
)
def test_names_with_numbers_stay(host: str) -> None:
    found = parse_referrer(f"https://{host}/".encode(), SITE)
    assert found.host == host
    assert found.domain not in (None, "(ip)")


def test_an_internal_referrer_spelled_with_an_address_stays_internal() -> None:
    found = parse_referrer(b"https://10-0-0-5.example.com/", SITE)
    assert (found.host, found.domain, found.medium) == ("(ip)", "example.com", "internal")


def test_a_listed_public_suffix_names_only_itself() -> None:
    assert sorted(SPAM_SUFFIX_HOSTS) == ["kharkov.ua"]  # of the shipped list (2 394 hosts)
    assert SPAM_SUFFIX_HOSTS <= SPAM_HOSTS
    for raw in (b"https://kharkov.ua/", b"https://KHARKOV.UA./x", b"http://www.kharkov.ua/"):
        assert parse_referrer(raw, SITE).spam, raw
    for raw in (b"https://school5.kharkov.ua/news", b"https://city-library.kharkov.ua/"):
        found = parse_referrer(raw, SITE)
        assert not found.spam, raw
        assert (found.domain, found.medium) == (found.host, "referral")
    # Controls: an entry that is no suffix still matches its subdomains (ucoz.ru's user sites).
    assert parse_referrer(b"https://myclub.ucoz.ru/", SITE).spam
    assert parse_referrer(b"https://sub.deeper.0-0.fr/", SITE).spam


def test_no_address_reaches_the_spool_or_the_rollups(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE)
    referers = [
        b"http://203.0.113.7.nip.io/",
        b"http://ec2-203-0-113-7.compute-1.amazonaws.com/",
        b"http://c-73-15-22-9.hsd1.ca.comcast.net/",
        b"https://2a01-4f8-c17-b8f--2.sslip.io/",
        b"https://school5.kharkov.ua/news",
    ]
    try:
        for number, referer in enumerate(referers):
            recorder.add(capture(f"/page-{number}", referer=referer))
        rows = spooled(recorder)
        spam = recorder.stats.spam
    finally:
        recorder.close()
    assert spam == 0
    assert sorted((row["referrer_host"], row["referrer_domain"]) for row in rows) == [
        ("(ip)", "(ip)"),
        ("(ip)", "comcast.net"),
        ("(ip)", "nip.io"),
        ("(ip)", "sslip.io"),
        ("school5.kharkov.ua", "school5.kharkov.ua"),
    ]
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(tmp_path / "spool")
    with duckdb.connect(str(db), read_only=True) as con:
        stored = [
            value
            for table, column in (
                ("events", "referrer_host"),
                ("events", "referrer_domain"),
                ("daily_referrers", "referrer_domain"),
                ("daily_referrer_domains", "referrer_domain"),
            )
            for (value,) in con.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()
        ]
    assert "school5.kharkov.ua" in stored  # the rollups ran over today's events
    leaked = [v for v in stored if v and any(s in v for s in ("203", "73-15", "2a01"))]
    assert leaked == []
