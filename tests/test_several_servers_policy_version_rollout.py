"""A new policy `version` rolled out one app server at a time (real uvicorn processes, one
visitor's cookie jar, no sticky sessions), as the README's *Several app servers* section
describes. A server of one version does not count the other version's decision (it asks
again) but keeps the cookie: it is the visitor's decision on the servers of its version, and
no decision is lost. A server that `accepts_versions` the new one counts the decisions made on
new servers, so the documented rollout (old servers accept the new version first) asks a
visitor who decides on a new server never again. Receipts pair across versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.several_servers_support import (
    Server,
    Visitor,
    read_receipts,
    rollout_fleet,
    visitor_fixture,
)

OLD, NEW = "2026-11-28", "2026-12-24"
ACCEPTING = "old, accepting the new version"  # an old server after step 1 of the rollout


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("receipts")
    return {name: folder / f"{index}.jsonl" for index, name in enumerate((OLD, NEW, ACCEPTING))}


@pytest.fixture(scope="module")
def servers(logs: dict[str, Path]) -> Iterator[dict[str, Server]]:
    options = [
        {"version": OLD, "receipts": logs[OLD]},
        {"version": NEW, "receipts": logs[NEW]},
        {"version": OLD, "accepts_versions": [NEW], "receipts": logs[ACCEPTING]},
    ]
    with rollout_fleet(*options) as started:
        yield dict(zip(logs, started, strict=True))


visitor = visitor_fixture()


@pytest.mark.parametrize(("decided_on", "then"), [(NEW, OLD), (OLD, NEW)])
def test_the_other_version_asks_again_and_keeps_the_decision(
    servers: dict[str, Server], visitor: Visitor, decided_on: str, then: str
) -> None:
    receipt_id = visitor.decide(servers[decided_on], "reject_all")
    assert visitor.visit(servers[decided_on]).decided
    there = visitor.visit(servers[then])
    assert not there.decided  # a new version asks again
    assert not there.consent_set_cookies  # neither cleared nor rewritten
    # Kept: the decision still counts on the servers of its own version.
    assert visitor.visit(servers[decided_on]).decided
    assert visitor.state(servers[decided_on])["receipt_id"] == receipt_id
    assert len(visitor.consent_cookies()) == 1


def test_no_decision_is_lost_while_two_versions_serve(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """Decided once on a new server, then ten requests alternating between old and new: the
    old servers ask, the new ones never do, and the one cookie stays as it was."""
    visitor.decide(servers[NEW])
    (cookie,) = visitor.consent_cookies()
    decided = [visitor.visit(servers[(OLD, NEW)[index % 2]]).decided for index in range(10)]
    assert decided == [False, True] * 5
    assert visitor.consent_cookies() == [cookie]


def test_without_accepts_versions_a_visitor_who_decides_whenever_asked_is_asked_at_each_switch(
    servers: dict[str, Server], visitor: Visitor, logs: dict[str, Path]
) -> None:
    """Each server counts only its own version, and the browser holds one consent cookie: the
    newest decision, of one version. Ten requests alternating: ten banners, no decision lost
    (each receipt names the one it replaces, across the two versions' logs)."""
    asked = []
    for index in range(10):
        server = servers[(OLD, NEW)[index % 2]]
        if not visitor.visit(server).decided:
            asked.append(visitor.decide(server, "reject_all"))
    assert len(asked) == 10
    receipts = {r["id"]: r for r in read_receipts([logs[OLD], logs[NEW]]) if r["id"] in asked}
    assert [receipts[later].get("replaces") for later in asked[1:]] == asked[:-1]


@pytest.mark.parametrize("first", [OLD, NEW])
def test_the_documented_rollout_asks_once(
    servers: dict[str, Server], visitor: Visitor, first: str
) -> None:
    """Old servers accept the new version (step 1), then the new version rolls out: half
    the fleet is new. A visitor who decides whenever asked, sent to either half at random,
    is asked once if the first answer was on a new server, twice if on an old one (an old
    decision is asked again on a new server, as a new version should): never more."""
    fleet = [servers[ACCEPTING], servers[NEW]]
    order = [servers[ACCEPTING] if first == OLD else servers[NEW]] + fleet * 6
    asked = []
    for server in order:
        if not visitor.visit(server).decided:
            asked.append(server.version)
            visitor.decide(server, "accept_all")
    assert asked == ([OLD, NEW] if first == OLD else [NEW])


def test_an_accepted_decision_counts_with_its_own_receipt_and_version(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    receipt_id = visitor.decide(servers[NEW], "save", categories=["analytics"])
    state = visitor.state(servers[ACCEPTING])
    assert state["decided"]
    assert state["receipt_id"] == receipt_id
    assert state["granted"] == ["analytics", "necessary"]
    visit = visitor.visit(servers[ACCEPTING])
    assert visit.decided
    assert not visit.consent_set_cookies


@pytest.mark.parametrize("action", ["withdraw", "reject_all"])
def test_a_change_on_the_other_version_names_the_decision_it_ends(
    servers: dict[str, Server], visitor: Visitor, logs: dict[str, Path], action: str
) -> None:
    """The old server does not count the new version's decision, but a withdrawal there
    clears it and a decision there replaces it, everywhere: the receipt names it, so an
    auditor pairs the two across the hosts' logs."""
    decision = visitor.decide(servers[NEW], "accept_all")
    before = len(read_receipts([logs[OLD]]))
    if action == "withdraw":
        visitor.withdraw(servers[OLD])
    else:
        visitor.decide(servers[OLD], action)
    (receipt,) = read_receipts([logs[OLD]])[before:]
    assert receipt["action"] == action
    assert receipt["policy_version"] == OLD
    assert receipt["withdraws" if action == "withdraw" else "replaces"] == decision
    if action == "withdraw":
        assert not visitor.consent_cookies()
        assert not visitor.visit(servers[NEW]).decided
