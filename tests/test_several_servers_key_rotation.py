"""Rotating `secret_key` on a site served by several app servers, changed one at a time.

Each server is a real uvicorn process; one visitor (one cookie jar) is sent to any of them,
as by a load balancer without sticky sessions. The procedure that loses no decision:

1. append the new key at the end, everywhere (`[old, new]`): it verifies, it does not sign;
2. move it to the front (`[new, old]`): cookies signed with the old key are re-signed;
3. drop the old key (`[new]`), one consent lifetime after phase 2 ended.

While phase 2 is half done, the two halves sign with different keys and each re-signs what
the other signed: one Set-Cookie on each response whose server signs with another key than
the request's cookie, never a lost decision. Putting the new key first on one server at once
(the naive way) has the others reject, and clear, every decision that server signs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.several_servers_support import Server, Visitor, fleet, visitor_fixture

# Each configuration the rollout passes through, one server each.
CONFIGS = {"before": "old", "phase 1": "old,new", "phase 2": "new,old", "phase 3": "new"}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    with fleet(*({"keys": keys} for keys in CONFIGS.values())) as started:
        yield dict(zip(CONFIGS, started, strict=True))


visitor = visitor_fixture()


# A mixed fleet: the servers already changed and those not yet; where the visitor decides;
# how many of 12 strictly alternating page requests (starting at the deciding server)
# re-sign the consent cookie.
MIXED_FLEETS = [
    ("before", "phase 1", "before", 0),
    ("before", "phase 1", "phase 1", 0),
    # Phase 2 half done: each half signs with its own key and re-signs the other's cookies.
    ("phase 1", "phase 2", "phase 1", 11),
    ("phase 1", "phase 2", "phase 2", 11),
    ("phase 2", "phase 3", "phase 2", 0),
    ("phase 2", "phase 3", "phase 3", 0),
]


@pytest.mark.parametrize(("not_yet", "changed", "decided_on", "resigns"), MIXED_FLEETS)
def test_each_phase_of_the_rollout_keeps_every_decision(
    servers: dict[str, Server],
    visitor: Visitor,
    not_yet: str,
    changed: str,
    decided_on: str,
    resigns: int,
) -> None:
    receipt_id = visitor.decide(servers[decided_on])
    order = [servers[decided_on], servers[changed if decided_on == not_yet else not_yet]]
    visits = [visitor.visit(order[index % 2]) for index in range(12)]
    assert all(visit.decided for visit in visits), "a decided visitor was shown the banner"
    assert not any(visit.cleared for visit in visits)
    assert sum(visit.resigned for visit in visits) == resigns
    # The re-signed cookie carries the same decision: the receipt it names is unchanged.
    assert {visitor.state(server)["receipt_id"] for server in order} == {receipt_id}
    assert len(visitor.consent_cookies()) == 1


def test_a_whole_rollout_under_random_balancing_keeps_a_decision(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """A visitor who decided before the rollout and keeps browsing through it, each request
    to a server picked at random among the fleet of the moment, two servers in all."""
    rng = random.Random(117)
    receipt_id = visitor.decide(servers["before"])
    fleets = [
        ("before", "phase 1"),
        ("phase 1", "phase 1"),
        ("phase 1", "phase 2"),
        ("phase 2", "phase 2"),
        ("phase 2", "phase 3"),
        ("phase 3", "phase 3"),
    ]
    resigns: list[int] = []
    for mixed in fleets:
        visits = [visitor.visit(servers[rng.choice(mixed)]) for _ in range(10)]
        assert all(visit.decided and not visit.cleared for visit in visits), mixed
        resigns.append(sum(visit.resigned for visit in visits))
    # Re-signs only while the two halves sign with different keys (phase 2 half done), and
    # one as the cookie signed with the old key first reaches a phase 2 server.
    assert resigns[0] == resigns[1] == resigns[4] == resigns[5] == 0
    assert resigns[3] <= 1
    assert 1 <= resigns[2] <= 10
    assert visitor.state(servers["phase 3"])["receipt_id"] == receipt_id


def test_a_decision_signed_with_the_old_key_is_re_signed_once_after_phase_2(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    visitor.decide(servers["phase 1"])
    visits = [visitor.visit(servers["phase 2"]) for _ in range(5)]
    assert [visit.resigned for visit in visits] == [True, False, False, False, False]
    assert visitor.visit(servers["phase 3"]).decided


def test_dropping_the_old_key_early_asks_again_whom_phase_2_did_not_see(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """Phase 3 before a consent lifetime has passed: a visitor who decided before phase 2
    and has not been back since still holds a cookie only the old key verifies."""
    visitor.decide(servers["before"])
    visit = visitor.visit(servers["phase 3"])
    assert not visit.decided
    assert visit.cleared
    assert not visitor.consent_cookies()


@pytest.mark.parametrize(("decided_on", "then"), [("phase 2", "before"), ("before", "phase 2")])
def test_the_new_key_first_on_one_server_loses_decisions(
    servers: dict[str, Server], visitor: Visitor, decided_on: str, then: str
) -> None:
    """The naive rollout: one server gets `[new, old]` while the others still have `[old]`.
    A decision that server signs (a new one, or a re-signed one) is a bad cookie to the
    others: they show the banner and clear it, so it is lost on every server."""
    visitor.decide(servers[decided_on])
    visits = [visitor.visit(servers[decided_on]), visitor.visit(servers[then])]
    visits += [visitor.visit(servers[decided_on]), visitor.visit(servers["before"])]
    assert visits[0].decided
    lost = visits[1] if then == "before" else visits[2]
    assert not lost.decided
    assert lost.cleared
    assert not visits[-1].decided
    assert not visitor.consent_cookies()
