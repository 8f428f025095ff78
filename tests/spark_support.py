"""What the Spark late-segment tests share: the spool days, the plan's inputs, and a run
stopped at one point of the job (as if it were killed there)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import analytics.spark as spark_module

D = date(2026, 10, 20)  # Berlin is UTC+2 then, Los Angeles UTC-7
SITES = ("example.com", "blog.example.com")
PATHS = ("/", "/pricing", "/blog/post")


def day(offset: int) -> date:
    return D + timedelta(days=offset)


def fingerprints(names: dict[date, tuple[str, ...]]) -> dict[date, tuple[int, str]]:
    return {d: (len(found), "|".join(sorted(found))) for d, found in names.items()}


def rerun(plan_state: dict[str, Any]) -> dict[date, dict[str, Any]]:
    return {date.fromisoformat(key): entry for key, entry in plan_state.items()}


SPOOL = {day(i): tuple(f"{i}-{n}.parquet" for n in range(3)) for i in range(4)}


class Stop(Exception):
    """Stands for the job being killed at one point of the run."""


def stop_once_at(
    stop_at: str | None, spool: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `stop_at`, run the Spark rollup once, killed when it calls that function: it must
    have recorded the late sums as pending. Without, do nothing."""
    if stop_at is None:
        return
    real = getattr(spark_module, stop_at)

    def stop(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(spark_module, stop_at, real)
        raise Stop(stop_at)

    monkeypatch.setattr(spark_module, stop_at, stop)
    with pytest.raises(Stop):
        spark_module.spark_rollup(str(spool), str(output))
    assert json.loads((output / "_cookiewall.json").read_text())["pending_late"] is True
