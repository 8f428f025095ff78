"""The visitor's address behind trusted proxies: X-Forwarded-For hops with ports and in any
spelling, trusted_proxies in the forms a deployment hands it (objects, uvicorn's comma list,
None) or a ValueError naming a bad entry, and no visitor id for a request without an address.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.recorder import Capture
from tests.recording_support import (
    ADDRESS,
    FIREFOX,
    SITE,
    html_app,
    raw_scope,
    run_request,
    spooled,
)

DAY = date(2026, 11, 28)


def capture(path: str = "/", *, status: Any = 200, peer: str = "203.0.113.7") -> Capture:
    return Capture(
        time.time(), path, "GET", status, b"", None, FIREFOX, peer, None, "undecided", True
    )


# --- X-Forwarded-For behind trusted proxies -----------------------------------------------


TRUSTED = ("10.0.0.0/8", "2001:db8:ffff::/48")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Azure Application Gateway and some others append "address:port"
        ("10.0.0.2", b"203.0.113.7:51234", "203.0.113.7"),
        ("10.0.0.2", b"203.0.113.7:443", "203.0.113.7"),
        ("10.0.0.2", b"[2001:db8::7]:51234", "2001:db8::7"),
        ("10.0.0.2", b"[2001:db8::7]", "2001:db8::7"),
        # a trusted hop with a port is still a trusted hop, not the visitor
        ("10.0.0.2", b"203.0.113.7, 10.0.0.9:8080", "203.0.113.7"),
        ("10.0.0.2", b"203.0.113.7:1, [2001:db8:ffff::1]:443", "203.0.113.7"),
        # one address, one spelling
        ("10.0.0.2", b"2001:DB8:0:0::7", "2001:db8::7"),
        ("10.0.0.2", b"::ffff:203.0.113.7", "203.0.113.7"),
        # a dual-stack listener reports an IPv4 proxy as ::ffff:10.0.0.2
        ("::ffff:10.0.0.2", b"203.0.113.7", "203.0.113.7"),
        # unchanged: the left part is the client's to write, the right-most untrusted hop wins
        ("10.0.0.2", b"6.6.6.6:80, 203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", b"unknown", ""),  # names nobody: test_visitors_unknown_forwarded_hop.py
        ("203.0.113.9", b"198.51.100.1", "203.0.113.9"),  # peer not trusted: header ignored
        ("10.0.0.2", b"10.0.0.8, 10.0.0.9", "10.0.0.8"),
    ],
)
def test_forwarded_for_hops_with_ports_and_spellings(
    peer: str, forwarded: bytes, expected: str
) -> None:
    from analytics.visitors import client_address, parse_proxies

    assert client_address(peer, forwarded, parse_proxies(TRUSTED)) == expected


def test_a_visitor_behind_a_port_appending_proxy_keeps_one_id(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", trusted_proxies=TRUSTED)
    try:
        for port in (51234, 51235, 60000):  # one browser, three connections
            recorder.add(capture(f"/p{port}", peer="10.0.0.2")._replace(
                forwarded_for=b"203.0.113.7:%d" % port))  # fmt: skip
        recorder.add(capture("/other", peer="10.0.0.2")._replace(forwarded_for=b"198.51.100.1:1"))
        rows = spooled(recorder)
    finally:
        recorder.close()
    ids = [row["visitor_id"] for row in rows]
    assert len(set(ids[:3])) == 1  # one visitor, whatever the connection's port
    assert ids[3] != ids[0]


@pytest.mark.parametrize("trusted", [("10.0.0.0/8",), ("::ffff:10.0.0.0/104",)])
@pytest.mark.parametrize("peer", ["10.0.0.2", "::ffff:10.0.0.2"])
def test_an_ipv4_proxy_is_trusted_in_either_spelling(trusted: tuple[str], peer: str) -> None:
    from analytics.visitors import client_address, parse_proxies

    assert client_address(peer, b"203.0.113.7", parse_proxies(trusted)) == "203.0.113.7"


# --- no client address (a Unix socket: ASGI `client` is None or missing) ------------------


@pytest.mark.parametrize("client", [None, "missing"])
@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)])
def test_requests_without_a_client_address_get_no_visitor_id(
    tmp_path: Path, client: Any, trusted: tuple[str, ...]
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, trusted_proxies=trusted)
    app = TrafficMiddleware(html_app, recorder=recorder)

    async def go() -> None:
        # uvicorn --uds: no peer address; without proxy headers every visitor looks alike
        await run_request(app, raw_scope("/a", client, b"203.0.113.7"))
        await run_request(app, raw_scope("/b", client, b"198.51.100.9"))
        await run_request(app, raw_scope("/c", ("203.0.113.7", 5000)))

    try:
        asyncio.run(go())
        rows = spooled(recorder)
    finally:
        recorder.close()
    # Hashing "" + user agent made every visitor with the same browser one visitor.
    assert [(row["path"], row["visitor_id"] is None) for row in rows] == [
        ("/a", True),
        ("/b", True),
        ("/c", False),
    ]


# --- trusted_proxies and exclude_paths in the forms a deployment hands them ---------------


@pytest.mark.parametrize(
    "proxies",
    [
        [ipaddress.ip_network("10.0.0.0/8")],  # AttributeError: no .strip()
        [ipaddress.ip_address("10.1.2.3")],
        "10.0.0.0/8, 192.168.0.0/16",  # uvicorn's FORWARDED_ALLOW_IPS form, from the env
        "10.0.0.0/8,192.168.0.0/16",
        ["10.0.0.0/8", "192.168.0.0/16"],
    ],
    ids=["network-object", "address-object", "comma-space", "comma", "list"],
)
def test_trusted_proxies_in_every_usual_form(tmp_path: Path, proxies: Any) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, trusted_proxies=proxies)
    try:
        behind_proxy = recorder.visitor_id(DAY, "10.1.2.3", ADDRESS.encode(), FIREFOX)
        assert behind_proxy == recorder.visitor_id(DAY, ADDRESS, None, FIREFOX)
    finally:
        recorder.close()


@pytest.mark.parametrize("option", ["trusted_proxies", "exclude_paths"])
def test_none_means_no_entries(tmp_path: Path, option: str) -> None:
    # os.environ.get(...) of an unset variable: was a TypeError from deep inside
    unset: dict[str, Any] = {option: None}
    recorder = Recorder(tmp_path / "spool", SITE, **unset)
    try:
        assert recorder.trusted_proxies == ()
        assert "/admin" not in recorder.exclude_paths
    finally:
        recorder.close()


@pytest.mark.parametrize(
    ("proxies", "named"),
    [
        (["10.0.0.0/8", 5], "5"),
        (["10.0.0.0/8", None], "None"),
        (["not-an-ip"], "'not-an-ip'"),
        (7, "7"),
    ],
)
def test_a_bad_trusted_proxy_is_a_value_error_naming_it(
    tmp_path: Path, proxies: Any, named: str
) -> None:
    with pytest.raises(ValueError, match=f"trusted_proxies: .*{re.escape(named)}"):
        Recorder(tmp_path / "spool", SITE, trusted_proxies=proxies)
