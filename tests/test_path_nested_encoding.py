"""Identifiers percent-encoded more than twice, in a path segment or a UTM value.

The server decodes a path once and redaction decoded what was left once more, so an address
encoded twice was caught (`john%2540example.com` in the raw path). A URL that went through
one more encoding step (a redirect chain that encodes its `next` target at every hop, a mail
tool that encodes a tracked link again) stored the address as sent. Decoding now goes on while
a `%` is left, a few levels deep.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path

IDENTIFIERS = [
    "john@example.com",
    "550e8400-e29b-41d4-a716-446655440000",
    "198.51.100.7",
    "2001:db8::1",
]


def encoded(text: str, times: int) -> str:
    for _ in range(times):
        text = quote(text, safe="")
    return text


@pytest.mark.parametrize("identifier", IDENTIFIERS)
@pytest.mark.parametrize("times", [1, 2, 3, 4])
def test_an_identifier_encoded_again_and_again_is_redacted_in_a_path(
    identifier: str, times: int
) -> None:
    # scope["path"] is decoded once already: `times` levels are left in it.
    assert redact_path(f"/u/{encoded(identifier, times)}/profile") == f"/u/{REDACTED}/profile"


@pytest.mark.parametrize("identifier", IDENTIFIERS)
@pytest.mark.parametrize("times", [1, 2, 3, 4])
def test_an_identifier_encoded_again_and_again_is_redacted_in_a_campaign_tag(
    identifier: str, times: int
) -> None:
    query = f"utm_source={encoded(identifier, times + 1)}".encode()
    assert extract_utm(query) == (REDACTED, None, None)


@pytest.mark.parametrize(
    "path",
    ["/search/100%25", "/c%2B%2B/tutorial", "/blog/50%2525-off-sale", "/a%25%25%25%25%25%25b"],
)
def test_readable_encoded_segments_stay(path: str) -> None:
    assert redact_path(path) == path


def test_a_deep_run_of_percent_signs_costs_little() -> None:
    segment = "%25" * 20_000
    assert redact_path(f"/x/{segment}") == "/x/…"  # too long to store, and no exception
