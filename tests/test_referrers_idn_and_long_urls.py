"""Referrer hosts in any IDNA spelling (the spam list's Punycode hosts written in Unicode, the
other full stops, full-width letters) and referrers up to the browsers' 4 096-byte cap are
classified as a browser sends them, parsed alone and through a real Recorder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Recorder
from analytics.referrers import SPAM_HOSTS, parse_referrer, referrer_parser
from tests.recording_support import SITE, capture, spooled


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


# --- the spam list holds IDN hosts in Punycode; referrer hosts are compared in Unicode ----


def _unicode(host: str) -> str:
    return ".".join(
        label.encode().decode("idna") if label.startswith("xn--") else label
        for label in host.split(".")
    )


IDN_SPAM = sorted(host for host in SPAM_HOSTS if host.startswith("xn--"))[:3]


@pytest.mark.parametrize("host", IDN_SPAM)
@pytest.mark.parametrize("prefix", ["", "www.", "promo."])
@pytest.mark.parametrize("spelling", ["punycode", "unicode", "upper-punycode"])
def test_an_idn_spam_host_is_spam_in_either_spelling(host: str, prefix: str, spelling: str) -> None:
    written = {
        "punycode": host,
        "unicode": _unicode(host),
        "upper-punycode": host.upper(),
    }[spelling]
    # A spam bot writes the header itself: nothing makes it send the Punycode form.
    assert parse_referrer(f"https://{prefix}{written}/".encode(), SITE).spam


def test_idn_spam_hosts_are_on_the_shipped_list() -> None:
    assert len(IDN_SPAM) == 3  # the parametrisation above is not empty


def test_an_idn_spam_referrer_in_unicode_is_counted_not_recorded(recorder: Recorder) -> None:
    spam = f"https://{_unicode(IDN_SPAM[0])}/offer".encode()
    recorder.add(capture("/spammed", referer=spam))
    recorder.add(capture("/fine", referer=b"https://news.ycombinator.com/"))
    assert [row["path"] for row in spooled(recorder)] == ["/fine"]
    assert recorder.stats.spam == 1
    assert referrer_parser(SITE)(spam).spam


# --- IDNA mapping of a Unicode host: the other full stops, full-width forms ---------------


@pytest.mark.parametrize(
    ("raw", "host", "medium"),
    [
        # U+3002, U+FF0E, U+FF61 separate labels like "." (IDNA, UTS #46): was `direct`
        ("https://www.google\u3002com/", "google.com", "search"),
        ("https://b\u00fccher\uff0ede/", "b\u00fccher.de", "referral"),
        ("https://B\u00dcCHER\uff61DE\u3002/", "b\u00fccher.de", "referral"),
        ("https://blog\u3002example\u3002com/", "blog.example.com", "internal"),
        # full-width letters map to ASCII: a browser sends the same host as "google.com"
        ("https://\uff47\uff4f\uff4f\uff47\uff4c\uff45.com/", "google.com", "search"),
        ("https://news.\uff59combinator.com/", "news.ycombinator.com", "social"),
        # unchanged: IDNA 2008 keeps sharp s (no case folding to "ss"), ASCII is left alone
        ("https://fa\u00df.de/", "fa\u00df.de", "referral"),
        ("https://b\u00fccher.de/", "b\u00fccher.de", "referral"),
        ("https://xn--bcher-kva.de/", "b\u00fccher.de", "referral"),
    ],
)
def test_a_unicode_host_is_mapped_as_idna_does(raw: str, host: str, medium: str) -> None:
    referrer = parse_referrer(raw.encode(), SITE)
    assert (referrer.host, referrer.medium) == (host, medium)
    assert referrer_parser(SITE)(raw.encode()).host == host


# --- a long same-site referrer: browsers send full URLs up to 4 096 bytes -----------------


@pytest.mark.parametrize(
    ("raw", "medium"),
    [
        # same origin: the full URL, query included (strict-origin-when-cross-origin)
        (b"https://example.com/search?" + b"facet=colour%3Ablue&" * 150, "internal"),
        (b"https://www.example.com/landing?utm_source=x&gclid=" + b"A1b2" * 700, "internal"),
        # a site with Referrer-Policy: unsafe-url
        (b"https://www.google.com/url?q=" + b"x" * 3500, "search"),
        # over the browsers' cap they send only the origin: a longer header is crafted
        (b"https://example.com/?" + b"x" * 4100, "direct"),
    ],
)
def test_a_referrer_up_to_the_browser_cap_is_classified(
    recorder: Recorder, raw: bytes, medium: str
) -> None:
    # Chrome and Firefox cut a Referer over 4 096 bytes down to the origin; up to that it is
    # a real navigation, and one from a long URL of the site itself was counted as `direct`.
    assert 2048 < len(raw) <= 4096 or medium == "direct"
    assert parse_referrer(raw, SITE).medium == medium
    assert referrer_parser(SITE)(raw).medium == medium
    recorder.add(capture("/next", referer=raw))
    assert [row["referrer_medium"] for row in spooled(recorder)] == [medium]
