"""`www.` before a name the Public Suffix List does not list is dropped, as it always was.

3acd18c keeps `www.` where the rest is a public suffix (`www.com`, `www.github.io` are sites
of their own), but asked the list with its default, which takes every name it does not know
for a suffix: `www.localhost` and `www.intranet` kept their `www.`, so one intranet site was
two referrers (`localhost` and `www.localhost`), and a site configured as `www.intranet`
counted `http://intranet/` as a referral. The same commit (and the README) treats such
names as sites of their own; `www.` before them now goes, as before a registrable name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.dashboard.params import referrer_key
from analytics.recorder import Recorder
from analytics.referrers import normalise_host, normalise_site, parse_referrer
from tests.recording_support import SITE, capture, spooled


@pytest.mark.parametrize("name", ["localhost", "intranet", "wiki-server", "corp"])
def test_www_before_a_name_no_rule_lists_is_the_same_site(name: str) -> None:
    assert normalise_host(f"www.{name}") == name
    assert normalise_host(f"WWW.{name.upper()}.") == name
    with_www = parse_referrer(f"http://www.{name}:8080/a".encode(), "example.org")
    without = parse_referrer(f"http://{name}/b".encode(), "example.org")
    assert with_www == without
    assert with_www.domain == name
    assert with_www.medium == "referral"


def test_a_site_configured_with_www_before_an_intranet_name_is_internal() -> None:
    site = normalise_site("www.intranet")
    assert site == "intranet"
    assert parse_referrer(b"http://intranet/page", site).medium == "internal"
    assert parse_referrer(b"http://www.intranet/page", site).medium == "internal"


def test_the_dashboard_reads_www_before_an_unlisted_name_as_the_recorder_stores_it() -> None:
    stored = parse_referrer(b"http://www.localhost:8000/", "example.org").domain
    assert stored == "localhost"
    assert referrer_key("www.localhost") == stored
    assert referrer_key("http://www.localhost:8000/x") == stored


@pytest.mark.parametrize(
    ("host", "kept"),
    [
        ("www.com", "www.com"),
        ("www.co.uk", "www.co.uk"),
        ("www.github.io", "www.github.io"),
        ("www.рф", "www.рф"),
        ("www.xn--p1ai", "www.рф"),
        ("www.foo.kawasaki.jp", "www.foo.kawasaki.jp"),  # under the wildcard *.kawasaki.jp
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),  # the exception !city.kawasaki.jp
        ("www.example.com", "example.com"),
    ],
)
def test_controls_www_before_a_listed_suffix_stays(host: str, kept: str) -> None:
    assert normalise_host(host) == kept


def test_a_spam_listed_host_that_is_a_public_suffix_stays_spam() -> None:
    # The spam list names `kharkov.ua`, an ICANN suffix: its header was dropped as spam
    # before 3acd18c and then counted as a direct visit (a bot's pageview recorded).
    for raw in (b"https://kharkov.ua/", b"https://KHARKOV.UA./x", b"http://www.kharkov.ua/"):
        found = parse_referrer(raw, "example.org")
        assert found.spam, raw
    # Controls: a suffix no list names is direct; a site registered under the listed one is
    # a referrer (an entry that is a public suffix names that host only: anyone registers
    # below a city domain, and its visitors' requests were dropped as spam).
    assert parse_referrer(b"https://lviv.ua/", "example.org").medium == "direct"
    assert not parse_referrer(b"https://a.kharkov.ua/", "example.org").spam


def test_a_recorder_drops_a_spam_listed_suffix_as_spam(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE)
    try:
        recorder.add(capture("/from-spam-suffix", referer=b"https://kharkov.ua/"))
        recorder.add(capture("/from-com", referer=b"https://com/"))
        paths = [row["path"] for row in spooled(recorder)]
        spam = recorder.stats.spam
    finally:
        recorder.close()
    assert paths == ["/from-com"]  # a forged suffix is a direct visit; a listed one is spam
    assert spam == 1
