"""An event of a day whose salt is deleted (over by more than 48 h) gets no visitor id.

SPEC 4.1: salts are deleted once their day is over (at most 48 h old), and then no
`visitor_id` of that day can be linked back. A clock that goes back (a backfill replayed into
the live salt folder, a clock jump, a worker suspended for days) used to make a NEW salt for
the old day, whose ids disagree with the ones written that day (its visitors counted twice),
and which lingered; or to hash with the deleted salt's key, still in memory. Such an event is
now counted as a pageview with `visitor_id` null. Yesterday's salt still serves a late event
just after midnight, and a backfill with a salt folder of its own still gets ids.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics import Recorder
from analytics.visitors import SaltStore, VisitorHasher
from tests.recording_support import capture

D = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # the start of day 0: offsets are days
DAY = D.date()
UA = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _at(days: float) -> datetime:
    return D + timedelta(days=days)


def _ids(recorder: Recorder, times: list[datetime], *, one_batch: bool) -> list[int | None]:
    """The visitor ids of one visitor's requests at `times`, in order."""
    for moment in times:
        recorder.add(capture("/", ts=moment))
        if not one_batch:
            recorder.convert()
    recorder.convert()
    return [event.visitor_id for event in recorder.pending_events()]


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path / "spool", "example.com", clock=lambda: D, flush_interval=3600)


# (event times in days after D, which get no id, the salt days left afterwards)
SEQUENCES = [
    # the clock went back two days: the deleted salt is neither made again nor its key used
    ([0, 2, 0.1], [2], [2]),
    ([0, 1, 2, 0.1], [3], [1, 2]),
    ([0, 3, 1.1], [2], [3]),
    ([0, 3, 0.1, 1.1], [2, 3], [3]),
    ([5, 0, 1, 2, 3], [1, 2, 3, 4], [5]),
    # yesterday's salt still serves late events, also one first seen after today's
    ([0, 1, 0.9], [], [0, 1]),
    ([1, 0.5], [], [0, 1]),
    ([0, 0.999, 1.001, 0.9995], [], [0, 1]),
    ([0, 1, 2, 1.5], [], [1, 2]),
    # forward only: every event hashed
    ([0, 1, 2, 3], [], [2, 3]),
    ([0, 4], [], [4]),
]


@pytest.mark.parametrize(("offsets", "without_id", "salts_left"), SEQUENCES)
def test_a_day_over_by_more_than_the_retention_gets_no_id(
    recorder: Recorder, offsets: list[float], without_id: list[int], salts_left: list[int]
) -> None:
    # Converted one by one, as the flusher's ticks would (within one batch, days are hashed
    # in the order they first appear, so a day's late events share its first id).
    ids = _ids(recorder, [_at(offset) for offset in offsets], one_batch=False)
    assert [index for index, found in enumerate(ids) if found is None] == without_id
    assert recorder.salts.days() == [DAY + timedelta(days=offset) for offset in salts_left]
    recorder.close()


def test_a_late_event_of_yesterday_keeps_the_id_written_that_day(recorder: Recorder) -> None:
    ids = _ids(recorder, [_at(0.49), _at(1.5), _at(0.499)], one_batch=False)
    assert ids[0] is not None
    assert ids[2] == ids[0]  # one visitor, once, that day
    recorder.close()


def test_a_worker_that_comes_late_gets_yesterdays_id_and_no_older_salt(tmp_path: Path) -> None:
    """Another process sharing the salt folder (a worker that was idle, or suspended)."""
    salts = tmp_path / "salts"
    live = Recorder(tmp_path / "a", "example.com", clock=lambda: D, salt_dir=salts)
    first = _ids(live, [_at(1), _at(2)], one_batch=False)
    late = Recorder(tmp_path / "b", "example.com", clock=lambda: D, salt_dir=salts)
    ids = _ids(late, [_at(1.9), _at(0.5), _at(1.8)], one_batch=False)
    assert ids[0] == first[0]
    assert ids[0] is not None
    assert ids[1] is None  # day 0's salt went when day 2 began: never made again
    assert ids[2] == ids[0]
    assert SaltStore(salts).days() == [DAY + timedelta(days=1), DAY + timedelta(days=2)]
    live.close()
    late.close()


def test_a_fresh_process_makes_no_salt_for_a_day_before_yesterday(tmp_path: Path) -> None:
    store = SaltStore(tmp_path)
    newest = store.salt(DAY + timedelta(days=3))
    assert newest is not None
    fresh = SaltStore(tmp_path)
    assert fresh.salt(DAY + timedelta(days=1)) is None
    assert fresh.salt(DAY + timedelta(days=2)) is not None  # yesterday: made if missing
    assert fresh.salt(DAY + timedelta(days=3)) == newest
    assert fresh.days() == [DAY + timedelta(days=2), DAY + timedelta(days=3)]


@pytest.mark.parametrize("deleted_by", ["delete_expired", "the hasher's new day"])
def test_once_a_store_deleted_a_days_salt_it_never_makes_it_again(
    tmp_path: Path, deleted_by: str
) -> None:
    store = SaltStore(tmp_path)
    old = store.salt(DAY)
    if deleted_by == "delete_expired":
        assert store.delete_expired(DAY + timedelta(days=2)) == [DAY]
    else:
        VisitorHasher("example.com", store).visitor_id(DAY + timedelta(days=2), "203.0.113.7", UA)
    assert old is not None
    assert store.salt(DAY) is None
    assert store.salt(DAY - timedelta(days=30)) is None
    assert not store.path(DAY).exists()
    assert store.salt(DAY + timedelta(days=1)) is not None  # the new day's yesterday


def test_a_backfill_with_a_salt_folder_of_its_own_gets_ids(tmp_path: Path) -> None:
    live_salts = tmp_path / "live-salts"
    live = Recorder(tmp_path / "live", "example.com", clock=lambda: D, salt_dir=live_salts)
    _ids(live, [_at(30)], one_batch=False)  # the live site, a month on
    backfill = Recorder(
        tmp_path / "backfill", "example.com", clock=lambda: D, salt_dir=tmp_path / "own-salts"
    )
    ids = _ids(backfill, [_at(0), _at(0.5), _at(1), _at(2)], one_batch=True)
    assert None not in ids
    assert ids[0] == ids[1] != ids[2]
    assert SaltStore(live_salts).days() == [DAY + timedelta(days=30)]
    live.close()
    backfill.close()


def test_the_refusal_is_logged_once_per_day_by_its_date_only(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="analytics"):
        _ids(recorder, [_at(3), _at(0), _at(0.1), _at(0.2)], one_batch=False)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1
    assert "2026-11-20" in lines[0]
    assert "without visitor ids" in lines[0]
    assert "198.51.100" not in lines[0]
    assert "Firefox" not in lines[0]
    assert recorder.stats.errors == 0  # not a failure of the salt folder
    recorder.close()


def test_the_day_of_the_events_decides_not_the_order_within_a_batch(recorder: Recorder) -> None:
    # a batch holding the tail of yesterday after today's first request (a conversion tick
    # just after midnight) hashes both, with the salts of their own days
    ids = _ids(recorder, [_at(0.3), _at(0.99), _at(1.01), _at(0.995)], one_batch=True)
    assert None not in ids
    assert ids[0] == ids[1] == ids[3] != ids[2]
    recorder.close()


def test_a_salt_older_than_yesterday_is_not_read_back_either(tmp_path: Path) -> None:
    """A salt file whose day is over (its deletion failed, or it was copied back): once the
    store knows the day is over, its ids are not linked to it."""
    store = SaltStore(tmp_path)
    old = store.salt(DAY)
    store.delete_expired(DAY + timedelta(days=2))
    assert old is not None
    store.path(DAY).write_bytes(old)
    assert store.salt(DAY) is None


def test_dates_before_any_salt_are_judged_by_the_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("an operator's file")
    (tmp_path / "2026-13-45.salt").write_bytes(b"x" * 16)  # not a date: ignored
    store = SaltStore(tmp_path)
    assert store.salt(date(2020, 1, 1)) is not None  # nothing newer: a backfill's first day
