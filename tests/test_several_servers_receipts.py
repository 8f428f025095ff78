"""Proof of consent on a site served by several app servers (real uvicorn processes).

One log per host: a visitor's decisions land on whichever host served them, so a receipt's
`replaces` or `withdraws` may name a receipt in another host's log. Receipt ids are random
(96 bits), so the hosts' logs put together pair every link, and one host's log alone does
not. One shared file also works where `flock` excludes across the writers (one machine, as
here; on NFS only with working NFS locks), rotation included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.several_servers_support import Server, Visitor, fleet, read_receipts


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("receipts")
    return {"a": folder / "host-a.jsonl", "b": folder / "host-b.jsonl"}


@pytest.fixture(scope="module")
def per_host(logs: dict[str, Path]) -> Iterator[dict[str, Server]]:
    with fleet({"receipts": logs["a"]}, {"receipts": logs["b"]}) as started:
        yield dict(zip(logs, started, strict=True))


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared") / "receipts.jsonl"


@pytest.fixture(scope="module")
def sharing(shared_log: Path) -> Iterator[list[Server]]:
    # 1 KiB files (the least allowed): the two processes rotate the log under each other.
    options = {"receipts": shared_log, "receipts_max_bytes": 1024}
    with fleet(options, options) as started:
        yield started


# A visitor's history: (host, action), each step after the first linked to the one before.
HISTORIES = [
    [("a", "accept_all"), ("b", "reject_all"), ("a", "withdraw")],
    [("b", "save"), ("a", "accept_all"), ("b", "save"), ("a", "withdraw")],
    [("a", "reject_all"), ("a", "accept_all"), ("b", "withdraw")],
]


@pytest.mark.parametrize("history", HISTORIES)
def test_the_hosts_logs_together_pair_every_link(
    per_host: dict[str, Server], logs: dict[str, Path], history: list[tuple[str, str]]
) -> None:
    before = {host: len(read_receipts([path])) for host, path in logs.items()}
    visitor = Visitor()
    try:
        for host, action in history:
            if action == "withdraw":
                visitor.withdraw(per_host[host])
            else:
                visitor.decide(per_host[host], action, categories=["analytics"])
    finally:
        visitor.close()
    # This visitor's receipts, host by host, in the order they were written.
    written = {host: read_receipts([path])[before[host] :] for host, path in logs.items()}
    assert [len(written[host]) for host in logs] == [
        sum(step[0] == host for step in history) for host in logs
    ]
    everything = {receipt["id"]: receipt for host in logs for receipt in written[host]}
    assert len(everything) == len(history)  # ids unique across the hosts
    # Follow the links back from the last receipt: the whole history, in order.
    last = next(r for r in everything.values() if r["action"] == "withdraw")
    chain: list[dict[str, Any]] = [last]
    while (link := chain[-1].get("withdraws") or chain[-1].get("replaces")) is not None:
        chain.append(everything[link])
    assert [r["action"] for r in reversed(chain)] == [action for _, action in history]
    # A link to a receipt of the other host is dangling in this host's log alone.
    crossings = sum(a != b for (a, _), (b, _) in pairwise(history))
    dangling = 0
    for host in logs:
        own = {r["id"] for r in written[host]}
        for receipt in written[host]:
            link = receipt.get("withdraws") or receipt.get("replaces")
            dangling += link is not None and link not in own
    assert dangling == crossings


def test_two_servers_appending_to_one_log_keep_every_receipt_whole(
    sharing: list[Server], shared_log: Path
) -> None:
    """60 decisions sent to two processes at once, 4 at a time, in a log rotated every
    1 KiB: every receipt is in one file, whole, once."""

    def decide(index: int) -> str:
        visitor = Visitor()
        try:
            return visitor.decide(sharing[index % 2], "accept_all")
        finally:
            visitor.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(decide, range(60)))
    files = [shared_log, *sorted(shared_log.parent.glob(shared_log.name + ".*"))]
    files = [path for path in files if not path.name.endswith(".lock")]
    assert len(files) > 5  # it did rotate, many times
    lines = [line for path in files for line in path.read_bytes().split(b"\n") if line]
    for path in files:
        assert path.read_bytes().endswith(b"\n")
    receipts = [json.loads(line) for line in lines]
    assert sorted(r["id"] for r in receipts) == sorted(ids)
    assert all(path.stat().st_size <= 1024 for path in files)
