"""A new policy `version` rolled out one app server at a time (real uvicorn processes, one
visitor's cookie jar, no sticky sessions), as the README's Policy section describes: old and
new servers each clear the other's decisions, so a visitor who decides on one and then
reaches the other is asked again there, and has lost the decision on every server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.several_servers_support import Server, Visitor, fleet, read_receipts, visitor_fixture

OLD, NEW = "2026-11-28", "2026-12-24"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("receipts")
    return {OLD: folder / "old.jsonl", NEW: folder / "new.jsonl"}


@pytest.fixture(scope="module")
def servers(logs: dict[str, Path]) -> Iterator[dict[str, Server]]:
    options = [{"version": version, "receipts": path} for version, path in logs.items()]
    with fleet(*options) as started:
        yield dict(zip(logs, started, strict=True))


visitor = visitor_fixture()


@pytest.mark.parametrize(("decided_on", "then"), [(NEW, OLD), (OLD, NEW)])
def test_the_other_version_asks_again_and_clears_the_decision(
    servers: dict[str, Server], visitor: Visitor, decided_on: str, then: str
) -> None:
    visitor.decide(servers[decided_on])
    assert visitor.visit(servers[decided_on]).decided
    there = visitor.visit(servers[then])
    assert not there.decided
    assert there.cleared
    # Cleared: gone for the servers of its own version too.
    assert not visitor.visit(servers[decided_on]).decided
    assert not visitor.consent_cookies()


def test_a_visitor_who_decides_whenever_asked_is_asked_on_every_change_of_version(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """Unbounded while the rollout lasts: each decision is cleared by the next server of
    the other version. Ten requests alternating between the two: ten banners."""
    asked = 0
    for index in range(10):
        server = servers[(OLD, NEW)[index % 2]]
        if not visitor.visit(server).decided:
            asked += 1
            visitor.decide(server, "reject_all")
    assert asked == 10


def test_a_withdrawal_on_the_other_version_names_no_decision(
    servers: dict[str, Server], visitor: Visitor, logs: dict[str, Path]
) -> None:
    """Withdrawn on a server of the other version, the decision is not in force there: the
    withdrawal's receipt has no `withdraws`, and an auditor cannot pair the two."""
    decision = visitor.decide(servers[NEW], "accept_all")
    before = len(read_receipts([logs[OLD]]))
    visitor.withdraw(servers[OLD])
    (withdrawal,) = read_receipts([logs[OLD]])[before:]
    assert withdrawal["action"] == "withdraw"
    assert "withdraws" not in withdrawal
    assert decision not in str(read_receipts([logs[OLD]]))
