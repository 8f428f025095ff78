"""A TLS proxy whose X-Forwarded-Proto the server does not believe (uvicorn trusts 127.0.0.1
and ::1 only, hypercorn and granian nobody): the app sees http and the consent cookie goes
without Secure. Nothing said so; the gate now logs it once, and only when a consent request
says https: X-Forwarded-Proto, or a Forwarded element parsed as RFC 7239 has it (never a
substring of another parameter). The browser run is tests/test_browser_https.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.test_cookiewall_support import call, make_app

SAID = "says it was forwarded from https"
ADDRESS = "192.0.2.7"  # in a header of most cases: it must show in no record of the gate
PLAIN = "http://testserver"
DECISION = ("POST", "/consent")


@pytest.mark.parametrize(
    ("options", "base_url", "request_line", "headers", "warned"),
    [
        ({}, PLAIN, DECISION, {"X-Forwarded-Proto": "https"}, True),
        ({}, PLAIN, DECISION, {"X-Forwarded-Proto": "HTTPS, http"}, True),
        ({}, PLAIN, DECISION, {"X-Forwarded-Proto": "http,\thttps"}, True),
        ({}, PLAIN, DECISION, {"Forwarded": f'for={ADDRESS};proto="https"'}, True),
        ({}, PLAIN, DECISION, {"Forwarded": f"For={ADDRESS} ; PROTO=HTTPS"}, True),
        ({}, PLAIN, DECISION, {"Forwarded": f"for={ADDRESS};proto=http, proto=https"}, True),
        ({}, PLAIN, DECISION, {"Forwarded": 'for="[2001:db8::1]:80";proto="ht\\tps"'}, True),
        # Not a proto parameter, or not https: substrings say nothing (review r301).
        ({}, PLAIN, DECISION, {"Forwarded": "xproto=https"}, False),
        ({}, PLAIN, DECISION, {"Forwarded": "proto=https-x"}, False),
        ({}, PLAIN, DECISION, {"Forwarded": f'for="_proto=https";by={ADDRESS}'}, False),
        ({}, PLAIN, DECISION, {"Forwarded": 'host="proto=https"'}, False),
        ({}, PLAIN, DECISION, {"Forwarded": 'host="a,proto=https";proto=http'}, False),
        ({}, PLAIN, DECISION, {"X-Forwarded-Proto": "https-x"}, False),
        ({}, PLAIN, DECISION, {}, False),  # plain http, nobody in front
        ({}, PLAIN, DECISION, {"X-Forwarded-Proto": "http"}, False),
        ({}, "https://testserver", DECISION, {"X-Forwarded-Proto": "https"}, False),  # believed
        ({"secure": True}, PLAIN, DECISION, {"X-Forwarded-Proto": "https"}, False),
        ({"secure": False}, PLAIN, DECISION, {"X-Forwarded-Proto": "https"}, False),
        ({"cookie_name": "__Host-c"}, PLAIN, DECISION, {"X-Forwarded-Proto": "https"}, False),
        # The check is on consent endpoints only: a page request is never slowed or logged.
        ({}, PLAIN, ("GET", "/"), {"X-Forwarded-Proto": "https"}, False),
        ({}, PLAIN, ("GET", "/"), {"Forwarded": f"for={ADDRESS};proto=https"}, False),
    ],
)
def test_an_unread_https_claim_is_named_once(
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    base_url: str,
    request_line: tuple[str, str],
    headers: dict[str, str],
    warned: bool,
) -> None:
    method, path = request_line
    body = {"json": {"action": "reject_all"}} if method == "POST" else {}
    gate = make_app(**options)
    with caplog.at_level(logging.DEBUG, logger="cookiewall"):
        for _ in range(2):
            answer = call(gate, method, path, headers=headers, base_url=base_url, **body)
            assert answer.status_code == 200
    records = [record.getMessage() for record in caplog.records if record.name == "cookiewall"]
    assert sum(SAID in message for message in records) == (1 if warned else 0)
    assert not [message for message in records if ADDRESS in message]  # nothing from a header
