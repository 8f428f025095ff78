"""App servers whose clocks disagree: each a real uvicorn process, one running `time.time`
shifted by its offset (its gate, endpoints, receipts and Date header alike).

The gate takes a decision time up to 5 minutes in the future (a host whose clock is ahead
signed it); see test_several_servers_decision_from_the_future_kept.py for beyond that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.several_servers_support import (
    MAX_AGE_SECONDS,
    Server,
    Visitor,
    fleet,
    max_age_of,
    read_receipts,
    visitor_fixture,
)

# Name -> (keys, clock offset in seconds). "rotating" re-signs cookies of the old key.
HOSTS = {
    "right": ("old", 0),
    "ahead 5 min": ("old", 300),
    "behind 5 min": ("old", -300),
    "ahead 15 min": ("old", 900),
    "behind 15 min": ("old", -900),
    "rotating": ("new,old", 0),
}


@pytest.fixture(scope="module")
def receipts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("receipts")
    return {name: folder / f"{index}.jsonl" for index, name in enumerate(HOSTS)}


@pytest.fixture(scope="module")
def servers(receipts: dict[str, Path]) -> Iterator[dict[str, Server]]:
    options = [
        {"keys": keys, "clock_offset": offset, "receipts": receipts[name]}
        for name, (keys, offset) in HOSTS.items()
    ]
    with fleet(*options) as started:
        yield dict(zip(HOSTS, started, strict=True))


visitor = visitor_fixture()


# Where the decision is made, and the server that reads it: within 5 minutes of each other.
WITHIN_TOLERANCE = [
    ("ahead 5 min", "right"),
    ("right", "behind 5 min"),
    ("right", "ahead 5 min"),
    ("behind 5 min", "right"),
]


@pytest.mark.parametrize(("decided_on", "read_on"), WITHIN_TOLERANCE)
def test_a_decision_counts_on_every_server_within_five_minutes(
    servers: dict[str, Server], visitor: Visitor, decided_on: str, read_on: str
) -> None:
    receipt_id = visitor.decide(servers[decided_on])
    for server in [servers[read_on], servers[decided_on]] * 3:
        visit = visitor.visit(server)
        assert visit.decided
        assert not visit.cleared
    assert visitor.state(servers[read_on])["receipt_id"] == receipt_id


def test_a_re_signed_cookie_lives_no_longer_than_the_consent_lifetime(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """Re-signing keeps the decision time; its Max-Age is what remains of the lifetime by the
    re-signing server's clock. A decision from a host 5 minutes ahead looks 5 minutes younger
    than brand new there: its cookie must still not outlive `consent_max_age`."""
    visitor.decide(servers["ahead 5 min"])
    visit = visitor.visit(servers["rotating"])
    assert visit.decided
    assert visit.resigned
    (header,) = visit.consent_set_cookies
    assert MAX_AGE_SECONDS - 60 <= max_age_of(header) <= MAX_AGE_SECONDS


def test_a_changed_decision_wins_whatever_the_clocks(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """ "Accept all" on a host 5 minutes ahead, then "reject all" on one that is right: the
    browser keeps the later Set-Cookie, so the rejection is what every server reads, though
    its decision time is earlier than the acceptance's."""
    first = visitor.decide(servers["ahead 5 min"], "accept_all")
    second = visitor.decide(servers["right"], "reject_all")
    assert first != second
    for name in ("right", "ahead 5 min", "behind 5 min", "rotating"):
        state = visitor.state(servers[name])
        assert state["receipt_id"] == second, name
        assert state["granted"] == ["necessary"], name
    assert len(visitor.consent_cookies()) == 1


def test_a_receipt_may_be_dated_before_the_one_it_replaces_by_the_clocks_skew(
    servers: dict[str, Server], visitor: Visitor, receipts: dict[str, Path]
) -> None:
    """Each receipt has its own server's time. Pairing follows `replaces`, not the times: a
    replacement made on a slower host is dated before the receipt it replaces, by at most
    the skew the gate tolerates."""
    first = visitor.decide(servers["ahead 5 min"], "accept_all")
    second = visitor.decide(servers["right"], "reject_all")
    by_id = {receipt["id"]: receipt for receipt in read_receipts(list(receipts.values()))}
    assert by_id[second]["replaces"] == first

    def moment(receipt_id: str) -> dt.datetime:
        return dt.datetime.fromisoformat(by_id[receipt_id]["time"].replace("Z", "+00:00"))

    gap = (moment(second) - moment(first)).total_seconds()
    assert -301 <= gap < 0
