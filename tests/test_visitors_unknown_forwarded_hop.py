"""An `X-Forwarded-For` hop of `unknown`: the proxy did not know the client's address.

RFC 7239 §6 gives `unknown` to every client whose address a proxy cannot tell (some proxies
write the same word into `X-Forwarded-For`). It names nobody: hashed as if it were an address,
every visitor behind such a proxy with the same browser became one visitor for the day. Like a
request with no client address at all (a Unix socket), it gets no visitor id.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics import Recorder
from analytics.visitors import client_address, parse_proxies
from tests.recording_support import capture, spooled

TRUSTED = ("10.0.0.0/8",)


@pytest.mark.parametrize(
    "forwarded",
    [b"unknown", b"UNKNOWN", b" Unknown ", b"unknown, 10.0.0.3", b"6.6.6.6, unknown"],
)
def test_an_unknown_hop_is_no_client_address(forwarded: bytes) -> None:
    assert client_address("10.0.0.2", forwarded, parse_proxies(TRUSTED)) == ""


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (b"_hidden", "_hidden"),  # an obfuscated identifier may be the proxy's per-client token
        (b"unknown-host, 203.0.113.7", "203.0.113.7"),
        (b"203.0.113.7, 10.0.0.3", "203.0.113.7"),
    ],
)
def test_other_hops_are_read_as_before(forwarded: bytes, expected: str) -> None:
    assert client_address("10.0.0.2", forwarded, parse_proxies(TRUSTED)) == expected


def test_visitors_behind_a_proxy_that_says_unknown_are_not_merged(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", trusted_proxies=TRUSTED)
    try:
        for path in ("/alice", "/bob"):  # two people, same browser, one proxy that says unknown
            recorder.add(capture(path, peer="10.0.0.2", forwarded_for=b"unknown"))
        recorder.add(capture("/carol", peer="10.0.0.2", forwarded_for=b"203.0.113.7"))
        rows = {row["path"]: row for row in spooled(recorder)}
    finally:
        recorder.close()
    assert rows["/alice"]["visitor_id"] is None
    assert rows["/bob"]["visitor_id"] is None
    assert rows["/carol"]["visitor_id"] is not None  # a known address is still hashed
    assert recorder.stats.recorded == 3  # counted as pageviews all the same
