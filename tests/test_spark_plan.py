"""Which days an incremental Spark rollup recomputes (`plan_days`): pure date logic, no Spark.

The rules the warehouse also keeps: cost grows with the new work, not with the history;
rollups survive pruning; a day is never recomputed from partial raw events."""

from __future__ import annotations

from collections.abc import Set
from datetime import date, timedelta
from typing import Any

import pytest

from analytics.spark import plan_days

D = date(2026, 3, 27)  # Europe's switch to summer time is on the 29th: a 23-hour local day


def days(*offsets: int) -> set[date]:
    return {D + timedelta(days=offset) for offset in offsets}


def seen(present: dict[date, tuple[int, str]]) -> dict[date, dict[str, Any]]:
    return {day: {"count": count, "digest": digest} for day, (count, digest) in present.items()}


SPOOL = {D + timedelta(days=i): (4, f"digest-{i}") for i in range(6)}


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_a_first_run_recomputes_every_local_day_the_spool_reaches(timezone: str) -> None:
    plan = plan_days(SPOOL, {}, timezone)
    expected: Set[date] | None = {"UTC": days(0, 1, 2, 3, 4, 5)}.get(timezone)
    if timezone == "Europe/Berlin":  # east of UTC: the last hour of each UTC day is tomorrow
        expected = days(0, 1, 2, 3, 4, 5, 6)
    if timezone == "America/Los_Angeles":  # west: the first hours of each UTC day are yesterday
        expected = days(-1, 0, 1, 2, 3, 4, 5)
    assert plan.local_days == expected
    assert plan.read_days == set(SPOOL)
    assert plan.skipped == ()
    assert plan.state == {
        day.isoformat(): {"count": c, "digest": h} for day, (c, h) in SPOOL.items()
    }


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_nothing_new_means_nothing_recomputed(timezone: str) -> None:
    plan = plan_days(SPOOL, seen(SPOOL), timezone)
    assert plan.local_days == set()
    assert plan.read_days == set()


@pytest.mark.parametrize(
    ("timezone", "local", "read"),
    [
        ("UTC", days(6), days(6)),
        # The new UTC day's last hour is the next Berlin day; recomputing the new Berlin day
        # also needs the UTC day before it (its first hour).
        ("Europe/Berlin", days(6, 7), days(5, 6)),
        ("America/Los_Angeles", days(5, 6), days(5, 6)),
    ],
)
def test_a_new_day_recomputes_only_the_local_days_it_touches(
    timezone: str, local: set[date], read: set[date]
) -> None:
    spool = {**SPOOL, D + timedelta(days=6): (1, "new")}
    plan = plan_days(spool, seen(SPOOL), timezone)
    assert plan.local_days == local
    assert plan.read_days == read  # every UTC day those local days overlap, if present


def test_late_segments_in_an_old_day_recompute_that_day() -> None:
    spool = {**SPOOL, D + timedelta(days=2): (5, "grown")}
    plan = plan_days(spool, seen(SPOOL), "UTC")
    assert plan.local_days == days(2)
    assert plan.state[(D + timedelta(days=2)).isoformat()] == {"count": 5, "digest": "grown"}


@pytest.mark.parametrize(
    "change",
    [
        "gone",  # a lifecycle rule deleted the whole day folder
        "shrunk",  # ... or some of its segments so far
        "swapped",  # as many segments as before, but other ones
    ],
)
def test_a_pruned_day_is_never_recomputed_again_and_its_neighbours_wait(change: str) -> None:
    pruned_day = D + timedelta(days=1)
    spool = dict(SPOOL)
    if change == "gone":
        del spool[pruned_day]
    else:
        spool[pruned_day] = (3, "shrunk") if change == "shrunk" else (4, "other")
    plan = plan_days(spool, seen(SPOOL), "UTC")
    assert plan.local_days == set()
    left = spool.get(pruned_day, (0, ""))[0]
    assert plan.state[pruned_day.isoformat()] == {"pruned": True, "count": left}
    assert plan.late == ()

    # A late segment lands in the pruned day: still pruned, nothing recomputed, reported.
    spool[pruned_day] = (left + 1, "late")
    again = plan_days(spool, {date.fromisoformat(k): v for k, v in plan.state.items()}, "UTC")
    assert again.local_days == set()
    assert again.late == (pruned_day,)
    assert again.state[pruned_day.isoformat()] == {"pruned": True, "count": left + 1}
    # ... once: the next run knows that count.
    third = plan_days(spool, {date.fromisoformat(k): v for k, v in again.state.items()}, "UTC")
    assert third.late == ()


def test_a_local_day_overlapping_a_pruned_day_is_skipped_not_recomputed_in_part() -> None:
    # Berlin: local day 1 is UTC day 0's last hour plus most of UTC day 1. Prune UTC day 0,
    # then a late segment arrives for UTC day 1: local day 2 is recomputed, local day 1 is
    # not (its first hour is gone for good), and it is reported.
    spool = {day: entry for day, entry in SPOOL.items() if day != D}
    spool[D + timedelta(days=1)] = (5, "late")
    plan = plan_days(spool, seen(SPOOL), "Europe/Berlin")
    assert plan.local_days == days(2)
    assert plan.skipped == (D + timedelta(days=1),)
    assert D not in plan.read_days


def test_daylight_saving_days_overlap_the_right_utc_days() -> None:
    # 29 March 2026 in Berlin runs from 28 March 23:00 UTC to 29 March 22:00 UTC.
    spring = date(2026, 3, 29)
    plan = plan_days({spring: (1, "x")}, {}, "Europe/Berlin")
    assert plan.local_days == {spring, spring + timedelta(days=1)}
    plan = plan_days({spring - timedelta(days=1): (1, "x")}, {}, "Europe/Berlin")
    assert plan.local_days == {spring - timedelta(days=1), spring}


def test_an_empty_listing_is_not_every_day_pruned() -> None:
    # An unmounted share or a wrong prefix lists nothing: no day may be marked pruned for
    # good, or every segment that shows up afterwards would be dropped.
    plan = plan_days({}, seen(SPOOL), "UTC")
    assert plan.local_days == set()
    assert plan.state == {d.isoformat(): {"count": c, "digest": h} for d, (c, h) in SPOOL.items()}
    later = {**SPOOL, D + timedelta(days=2): (5, "grown")}
    after = plan_days(later, {date.fromisoformat(k): v for k, v in plan.state.items()}, "UTC")
    assert after.local_days == days(2)
