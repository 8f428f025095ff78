"""Internet addresses in paths and UTM tags are redacted (the privacy policy promises none is
stored); versions, dates, times and code paths that only look a little like one are kept."""

from __future__ import annotations

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path

R = REDACTED

# Each side of the rule: what is an Internet address (redacted) and what only looks a little
# like one (kept). A dotted quad of 0-255 values; an IPv6 address with at least two colons,
# hex groups and a digit, not glued to other letters or digits.
IP_PATHS = [
    # IPv4
    ("/whois/198.51.100.1", f"/whois/{R}"),
    ("/whois/198.51.100.1/details", f"/whois/{R}/details"),
    ("/ip/0.0.0.0", f"/ip/{R}"),
    ("/ip/255.255.255.255", f"/ip/{R}"),
    ("/ip/10.0.0.1", f"/ip/{R}"),
    ("/ip/192.168.001.010", f"/ip/{R}"),  # zero-padded, as some logs print them
    ("/lookup/host-203.0.113.9", f"/lookup/{R}"),
    ("/lookup/ip198.51.100.1", f"/lookup/{R}"),
    ("/logs/198.51.100.1.json", f"/logs/{R}"),
    ("/logs/198.51.100.1:8080", f"/logs/{R}"),
    ("/a/198.51.100.1_2", f"/a/{R}"),
    ("/ip/198%2E51%2E100%2E1", f"/ip/{R}"),  # doubly encoded: scope path decodes once
    ("/ip/198.51.100.1%2Fx", f"/ip/{R}"),
    # IPv6
    ("/u/2001:db8::1/profile", f"/u/{R}/profile"),
    ("/u/2001:DB8::1", f"/u/{R}"),
    ("/u/2001:db8:85a3:0:0:8a2e:370:7334", f"/u/{R}"),
    ("/u/2001:0db8:85a3:0000:0000:8a2e:0370:7334", f"/u/{R}"),
    ("/u/fe80::1", f"/u/{R}"),
    ("/u/fe80::1%25eth0", f"/u/{R}"),
    ("/u/::1", f"/u/{R}"),
    ("/u/::ffff:192.0.2.1", f"/u/{R}"),
    ("/u/[2001:db8::1]", f"/u/{R}"),
    ("/u/[2001:db8::1]:443", f"/u/{R}"),
    ("/u/2001%3Adb8%3A%3A1/profile", f"/u/{R}/profile"),  # doubly encoded
    ("/u/2001%3adb8%3a%3a1", f"/u/{R}"),
    ("/u/addr=2001:db8::42", f"/u/{R}"),
    ("/u/2001:db8::1.json", f"/u/{R}"),
    ("/u/x_2001:db8::1", f"/u/{R}"),
    ("/u/fd00::", f"/u/{R}"),
    ("/u/abcd::ef", f"/u/{R}"),  # no digit, still an address
    ("/cpp/a::b", f"/cpp/{R}"),  # a valid IPv6 literal: privacy wins over a rare a-f name
    # kept: versions, dates, numbers, times, code paths
    ("/v1.2.3/", "/v1.2.3/"),
    ("/releases/v1.2.3", "/releases/v1.2.3"),
    ("/releases/1.2.3.4.5", "/releases/1.2.3.4.5"),  # five parts: no address
    ("/archive/2026.11.28/", "/archive/2026.11.28/"),
    ("/archive/28.11.2026", "/archive/28.11.2026"),
    ("/blog/10.0", "/blog/10.0"),
    ("/ip/256.1.1.1", "/ip/256.1.1.1"),
    ("/ip/1.2.3.256", "/ip/1.2.3.256"),
    ("/ip/1.2.3", "/ip/1.2.3"),
    ("/python/3.11.4", "/python/3.11.4"),
    ("/files/report.2026.q3.pdf", "/files/report.2026.q3.pdf"),
    ("/schedule/12:30:45", "/schedule/12:30:45"),
    ("/events/2026-11-28T10:00:00Z", "/events/2026-11-28T10:00:00Z"),
    ("/docs/std::vec::Vec", "/docs/std::vec::Vec"),
    ("/pod/Data::Dumper", "/pod/Data::Dumper"),
    ("/ratio/16:9", "/ratio/16:9"),
    ("/mac/aa:bb:cc:dd:ee:ff:00", "/mac/aa:bb:cc:dd:ee:ff:00"),  # seven pairs: no address
    ("/ns/urn:isbn:0451450523", "/ns/urn:isbn:0451450523"),
    ("/emoji/::", "/emoji/::"),  # the unspecified address is no one's
    ("/cpp/std::vec2::x", "/cpp/std::vec2::x"),  # `ec2::` glued to a name
    ("/u/1:2:3:4:5:6:7:8:9", "/u/1:2:3:4:5:6:7:8:9"),  # nine groups: not an address
    ("/windows/10.0.19045.2006", "/windows/10.0.19045.2006"),
    ("/c/1:2:3", "/c/1:2:3"),
]


@pytest.mark.parametrize(("path", "expected"), IP_PATHS)
def test_internet_addresses_in_paths_are_redacted(path: str, expected: str) -> None:
    assert redact_path(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"utm_campaign=198.51.100.7", (None, None, R)),
        (b"utm_source=2001:db8::7", (R, None, None)),
        (b"utm_source=2001%3Adb8%3A%3A7", (R, None, None)),  # decoded once by the query parser
        (b"utm_source=2001%253Adb8%253A%253A7", (R, None, None)),  # doubly encoded
        (b"utm_medium=visitor%20198.51.100.7", (None, R, None)),
        (b"utm_campaign=from+198.51.100.7+ok", (None, None, R)),
        (b"ref=198.51.100.7", (R, None, None)),
        (b"utm_campaign=john%2540example.com", (None, None, R)),  # doubly encoded e-mail
        (b"utm_campaign=198%252E51%252E100%252E7", (None, None, R)),
        # kept
        (b"utm_campaign=release-1.2.3", (None, None, "release-1.2.3")),
        (b"utm_campaign=2026.11.28", (None, None, "2026.11.28")),
        (b"utm_campaign=spring%25off", (None, None, "spring%off")),
        (b"utm_campaign=10:30", (None, None, "10:30")),
    ],
)
def test_internet_addresses_in_utm_tags_are_redacted(
    query: bytes, expected: tuple[str | None, ...]
) -> None:
    assert extract_utm(query) == expected
