"""Recording bugs found in the second review, each pinned by the test that first failed.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics import Recorder
from analytics.recorder import Capture
from analytics.referrers import SPAM_HOSTS, parse_referrer, referrer_parser
from analytics.spool import list_segments, read_segment

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SITE = "example.com"


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


def spooled(recorder: Recorder) -> list[dict[str, Any]]:
    recorder.flush()
    return [
        row
        for segment in list_segments(recorder.spool_dir)
        for row in read_segment(segment.path).to_pylist()
    ]


def capture(path: str = "/", **changes: Any) -> Capture:
    return Capture(
        time.time(), path, "GET", 200, b"", None, FIREFOX, "203.0.113.7", None, "undecided", True
    )._replace(**changes)


# --- the spam list holds IDN hosts in Punycode; referrer hosts are compared in Unicode -------


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
