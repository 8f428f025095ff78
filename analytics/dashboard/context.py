"""What every handler of one dashboard shares: its configuration and its warehouse copy."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from analytics.dashboard.params import Params, parse
from analytics.dashboard.snapshot import Snapshot, SnapshotStore
from analytics.timezones import local_date


@dataclass(frozen=True)
class Context:
    store: SnapshotStore
    title: str
    min_visitors: int | None
    timezone: str | None  # None: the warehouse's own time zone
    # What "now" is: the default range ends the day before it (fixed in tests).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def today(self, snapshot: Snapshot | None) -> date:
        """Today where the warehouse's days begin (the default range ends yesterday): by
        DuckDB's time-zone data, which cut those days (`local_date`; naive "now" is UTC)."""
        zone = self.timezone or (snapshot.timezone if snapshot is not None else "UTC")
        now = self.clock()
        try:
            return local_date(now, zone)
        except ValueError:
            # The rollup may run with a duckdb whose tz data knows a zone this one lacks.
            # Its days are already cut; only "today" of the default range is asked here,
            # and UTC is what `analytics report` falls back to as well (never a 500).
            return local_date(now, "UTC")

    def parse(
        self,
        query: QueryParams,
        snapshot: Snapshot | None,
        *,
        compare_default: bool,
        need_referrer: bool = False,
        ignore: tuple[str, ...] = (),
    ) -> Params:
        """`ignore`: parameters this page does not offer, left unread (the overview has no
        referrer; reading one would narrow its cards and chart but not its tables)."""
        raw = {key: value for key, value in _single(query).items() if key not in ignore}
        if snapshot is None and self.timezone is None:
            # The pre-check, before the warehouse is read: its zone is not known yet. UTC's
            # today ran a day ahead of a zone behind UTC (after UTC midnight), so a `from`-only
            # range of exactly MAX_BUCKETS got a 400 the real check would not give. No zone's
            # date is before UTC's minus one day: the shortest range any zone can make is
            # checked here, and the check with the snapshot decides the rest.
            today = self.today(None) - timedelta(days=1)
        else:
            today = self.today(snapshot)
        return parse(
            raw,
            today=today,
            compare_default=compare_default,
            need_referrer=need_referrer,
        )


def mount_root(request: Request) -> str:
    """The prefix the dashboard is mounted under (`Mount`, `uvicorn --root-path`), without a
    trailing slash: every address a page or an answer names starts with it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _single(query: QueryParams) -> Mapping[str, str]:
    # A repeated parameter takes its last value, as in Starlette's own `.get`.
    return {key: query.getlist(key)[-1] for key in query}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(data: Any) -> bytes:
    return json.dumps(data, default=_plain, ensure_ascii=False, separators=(",", ":")).encode()
