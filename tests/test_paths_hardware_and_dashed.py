"""Path and UTM redaction, session 7: MAC addresses (a device's hardware id) and IPv4 written
with dashes inside a hostname (`203-0-113-9.dsl.example.net`, `ip-10-0-0-1`) are redacted;
sizes, scores, dates and slugs that merely look similar stay."""

from __future__ import annotations

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path

R = REDACTED


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # MAC addresses: colon, dash and Cisco's dotted form, any case
        ("/devices/aa:bb:cc:dd:ee:ff", f"/devices/{R}"),
        ("/devices/00:11:22:33:44:55", f"/devices/{R}"),  # colons: digits alone are enough
        ("/devices/00-1A-2B-3C-4D-5E", f"/devices/{R}"),
        ("/devices/001a.2b3c.4d5e/status", f"/devices/{R}/status"),
        ("/devices/mac=00:1a:2b:3c:4d:5e", f"/devices/{R}"),
        ("/devices/00%3A1a%3A2b%3A3c%3A4d%3A5e", f"/devices/{R}"),  # doubly encoded
        # IPv4 with dashes, in a hostname
        ("/whois/203-0-113-9.dsl.example.net", f"/whois/{R}"),
        ("/hosts/ip-10-0-0-1", f"/hosts/{R}"),
        ("/hosts/IP-10-0-0-1.ec2.internal", f"/hosts/{R}"),
        ("/hosts/host-192-168-001-020.example.com", f"/hosts/{R}"),
        # kept: sizes, scores, dates, versions, slugs, near misses
        ("/sizes/10-12-14-16-18-20", "/sizes/10-12-14-16-18-20"),  # six decimal pairs
        ("/sizes/38-39-40-41", "/sizes/38-39-40-41"),  # no hostname around it
        ("/results/3-1-2-0", "/results/3-1-2-0"),
        ("/archive/2026-11-28", "/archive/2026-11-28"),
        ("/how-to-fix-error-404-in-2024", "/how-to-fix-error-404-in-2024"),
        ("/releases/1-2-3-4-5.html", "/releases/1-2-3-4-5.html"),  # five numbers
        ("/hosts/ip-300-1-1-1", "/hosts/ip-300-1-1-1"),  # 300 is no octet
        ("/hosts/1-203-0-113-9.example.net", "/hosts/1-203-0-113-9.example.net"),  # five
        ("/mac/aa:bb:cc:dd:ee:ff:00", "/mac/aa:bb:cc:dd:ee:ff:00"),  # seven pairs
        ("/mac/aa:bb:cc-dd:ee:ff", "/mac/aa:bb:cc-dd:ee:ff"),  # mixed separators
        ("/ticket/1234.5678.9012", "/ticket/1234.5678.9012"),  # dotted, no letter a-f
        ("/schedule/12:30:45", "/schedule/12:30:45"),
        ("/files/archive.tar.gz", "/files/archive.tar.gz"),
    ],
)
def test_hardware_and_dashed_addresses(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def test_a_mac_address_in_a_campaign_tag_is_redacted() -> None:
    assert extract_utm(b"utm_source=00:1a:2b:3c:4d:5e&utm_campaign=ip-10-0-0-1") == (
        R,
        None,
        R,
    )
    assert extract_utm(b"utm_source=newsletter-2026-11") == ("newsletter-2026-11", None, None)


def test_only_paths_stored_as_they_came_are_kept_in_the_cache() -> None:
    # A path that held an identifier would otherwise stay in memory, raw, as a cache key.
    redact_path.cache_clear()
    token_path = "/reset/6f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f"
    for _ in range(2):
        assert redact_path(token_path) == f"/reset/{R}"
        assert redact_path("/devices/aa:bb:cc:dd:ee:ff") == f"/devices/{R}"
        assert redact_path("/blog/a-perfectly-normal-post-title") == (
            "/blog/a-perfectly-normal-post-title"
        )
    info = redact_path.cache_info()
    assert info.currsize == 1  # the blog post alone
    assert info.hits == 1
    assert info.misses == 5
    assert token_path not in redact_path._kept


def test_the_cache_keeps_the_most_recently_used_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("analytics.paths.CACHE_SIZE", 3)
    redact_path.cache_clear()
    for path in ("/a", "/b", "/c", "/a", "/d"):  # "/a" used again: "/b" is the oldest
        redact_path(path)
    assert list(redact_path._kept) == ["/c", "/a", "/d"]
    redact_path.cache_clear()
