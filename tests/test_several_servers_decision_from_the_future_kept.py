"""A consent cookie whose decision time lies more than the tolerated 5 minutes (and at most
an hour) ahead of a server's clock: signed by a host of the site whose clock is ahead, or read
by one whose clock is behind. That server does not count the decision, and must not clear it
either: cleared, it would be lost on every server, the one that made it included."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from cookiewall.consent import ConsentCodec
from tests.several_servers_support import Server, Visitor, fleet, visitor_fixture
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

HOSTS = {
    "right": 0,
    "ahead 5 min": 300,
    "behind 5 min": -300,
    "ahead 15 min": 900,
    "behind 15 min": -900,
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    with fleet(*({"keys": "old", "clock_offset": offset} for offset in HOSTS.values())) as started:
        yield dict(zip(HOSTS, started, strict=True))


visitor = visitor_fixture()


# Where the decision is made, and a server more than 5 minutes behind that host's clock.
BEYOND_TOLERANCE = [
    ("ahead 15 min", "right"),
    ("right", "behind 15 min"),
    ("ahead 5 min", "behind 5 min"),
    ("ahead 15 min", "behind 15 min"),
]


@pytest.mark.parametrize(("decided_on", "read_on"), BEYOND_TOLERANCE)
def test_the_decision_stays_for_the_servers_whose_clocks_agree(
    servers: dict[str, Server], visitor: Visitor, decided_on: str, read_on: str
) -> None:
    receipt_id = visitor.decide(servers[decided_on])
    for _ in range(3):
        visit = visitor.visit(servers[read_on])
        assert not visit.decided  # too far in the future: not counted here
        assert visit.consent_set_cookies == []  # ... and not cleared either
        back = visitor.visit(servers[decided_on])
        assert back.decided
        assert back.consent_set_cookies == []
    assert visitor.state(servers[decided_on])["receipt_id"] == receipt_id
    assert len(visitor.consent_cookies()) == 1


@pytest.mark.parametrize(("decided_on", "read_on"), BEYOND_TOLERANCE)
def test_deciding_again_on_the_slow_server_counts_everywhere(
    servers: dict[str, Server], visitor: Visitor, decided_on: str, read_on: str
) -> None:
    """Asked again on the slow server, the visitor decides there: that decision, dated by
    the slower clock, counts on it, on the host that made the first, and on every host not
    more than 5 minutes behind it."""
    first = visitor.decide(servers[decided_on], "accept_all")
    second = visitor.decide(servers[read_on], "reject_all")
    assert first != second
    readers = [name for name, offset in HOSTS.items() if HOSTS[read_on] - offset <= 300]
    assert decided_on in readers
    for name in readers:
        state = visitor.state(servers[name])
        assert state["receipt_id"] == second, name
        assert state["granted"] == ["necessary"], name


def _cookie_decided_in(seconds: int) -> str:
    codec = ConsentCodec(make_policy(), SECRET)
    value, _ = codec.new_decision(frozenset({"analytics"}), now=int(time.time()) + seconds)
    return value


@pytest.mark.parametrize(
    ("seconds", "decided", "cleared"),
    [
        (0, True, False),
        (299, True, False),
        (300, True, False),  # a host exactly 5 minutes ahead
        (302, False, False),  # not counted here, kept for the hosts whose clocks agree
        (1800, False, False),
        (3599, False, False),
        # No drift puts a clock an hour or more ahead: bad, as an expired cookie is.
        (3602, False, True),
        (86400, False, True),
        (10 * 365 * 86400, False, True),
        (-180 * 86400, False, True),
    ],
)
def test_the_tolerance_is_five_minutes_and_only_expired_cookies_are_cleared(
    seconds: int, decided: bool, cleared: bool
) -> None:
    app = make_app()
    reply = call(
        app, "GET", "/state", headers={"cookie": f"cookiewall={_cookie_decided_in(seconds)}"}
    )
    assert reply.json()["decided"] is decided
    clears = [h for h in reply.headers.get_list("set-cookie") if h.startswith("cookiewall=;")]
    assert bool(clears) is cleared
    assert app.stats["bad_cookies"] == int(cleared)


def test_a_clock_ahead_is_logged_once_without_the_cookie(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    values = [_cookie_decided_in(900 + index) for index in range(3)]
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        for value in values * 2:
            call(app, "GET", "/state", headers={"cookie": f"cookiewall={value}"})
    lines = [
        r.getMessage() for r in caplog.records if "ahead of this host's clock" in r.getMessage()
    ]
    assert len(lines) == 1
    assert "check the app servers' clocks" in lines[0]
    # itsdangerous marks a zlib-compressed payload with a leading "." (about 1 value in 270
    # here, by the random receipt id): the payload is what follows it.
    payloads = [value.removeprefix(".").split(".")[0] for value in values]
    assert all(len(payload) > 40 for payload in payloads)
    assert not any(payload in lines[0] for payload in payloads)  # each value holds its payload
