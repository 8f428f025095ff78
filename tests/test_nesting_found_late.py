"""A site with one gate and one recorder skips the nesting bookkeeping (a look for an outer
gate, an inner gate's report, a recorder's claim check) while its process has built no other:
then nothing can nest. A mount whose own gate and recorder are built at its first request
(Starlette builds an app's middleware on its first call) must still get all of it, on that
very request too: its gate's answers pass the site's gate, and its pages are one row each,
in the site's spool, as when the process had several gates and recorders from the start.

Each run is a process of its own (tests/apps/late_nesting_program.py, real uvicorn): this
test process has built many gates, which would hide the fast path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROGRAM = Path(__file__).parent / "apps" / "late_nesting_program.py"
ROOT = Path(__file__).resolve().parent.parent


def run(mode: str, base: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(PROGRAM), mode, str(base)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run("one", tmp_path_factory.mktemp("alone"))


def test_one_gate_and_one_recorder_take_the_fast_path(alone: dict[str, Any]) -> None:
    # Until the shop's stack is built, the site's gate and recorder are the only ones: if
    # this fails (a framework that builds middleware twice), the figures lose the fast path.
    assert alone["flags"]["after the site's page"] == [False, False]
    assert alone["flags"]["after the shop's first page"] == [True, True]


def test_a_mount_built_at_its_first_request_is_gated_by_its_own_gate(
    alone: dict[str, Any],
) -> None:
    # The first shop page (during which the shop's gate is built) keeps the cookie the shop
    # declares below the mount, which the site's gate removes unless it sees the shop's report;
    # the shop's accept stores the shop's decision.
    assert alone["answers"] == [
        [200, []],
        [200, ["shopnote"]],
        [200, ["shopconsent"]],
        [200, ["shopnote"]],
        [200, []],
    ]


def test_a_mount_built_at_its_first_request_is_recorded_once_by_the_site(
    alone: dict[str, Any],
) -> None:
    # The site's recorder took the first shop page on before the shop's was built: it keeps it.
    assert alone["site rows"] == [
        ["/p", "undecided"],
        ["/shop/p", "undecided"],
        ["/shop/p", "undecided"],
        ["/p", "undecided"],
    ]
    assert alone["shop rows"] == []


def test_as_with_several_gates_and_recorders_from_the_start(
    alone: dict[str, Any], tmp_path: Path
) -> None:
    several = run("several", tmp_path)
    assert several["flags"]["after the site's page"] == [True, True]
    for key in ("answers", "site rows", "shop rows"):
        assert several[key] == alone[key], key
