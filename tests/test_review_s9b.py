"""Session 9 review (b) of the session's changes: what a test showed wrong, each with its fix.

Raw ASGI calls to the gate for the consent endpoints (as `tests/test_consent_request_reading.py`),
real DuckDB warehouse files for the reports.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

import analytics.reports as reports
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.test_consent_request_reading import (
    ACCEPT_JSON,
    END,
    JSON,
    MULTIPART,
    assert_refused,
    part,
    post,
)

OWN = (b"origin", b"http://testserver")

# -- 1. a repeated Content-Type is refused, whichever copy comes first -----------------------
#
# The gate joins a repeated field with ", " (RFC 9110 5.3) and the README says a repeated
# Content-Type is refused. It was only when the joined value named no media type the endpoint
# reads: `application/json; charset=utf-8` then `text/plain` read as JSON (the media type is
# what comes before the first ';'), and a multipart body whose boundary line spelled the
# joined parameter ("B, text/plain") was a decision.


@pytest.mark.parametrize(
    ("copies", "body"),
    [
        ([b"application/json; charset=utf-8", b"text/plain"], ACCEPT_JSON),
        ([b"application/json; charset=utf-8", b"application/json"], ACCEPT_JSON),
        ([b"application/x-www-form-urlencoded; charset=utf-8", b"x"], b"action=accept_all"),
        (
            [b"multipart/form-data; boundary=B", b"text/plain"],
            (part(b"accept_all") + END).replace(b"--B", b"--B, text/plain"),
        ),
    ],
    ids=["json-then-text", "json-twice", "form-then-other", "multipart-joined-boundary"],
)
def test_a_repeated_content_type_is_refused_whichever_copy_is_first(
    copies: list[bytes], body: bytes
) -> None:
    headers = [(b"content-type", value) for value in copies]
    assert_refused(post([*headers, OWN], [body]), 400)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        (JSON[1], ACCEPT_JSON, 200),
        (b"application/json; charset=utf-8", ACCEPT_JSON, 200),
        (b"application/x-www-form-urlencoded;charset=UTF-8", b"action=accept_all", 303),
        (MULTIPART[1], part(b"accept_all") + END, 303),
        # A quoted boundary may hold a ',' (RFC 2046 5.1.1 bchars): one field, still read.
        (
            b'multipart/form-data; boundary="a,b"',
            (part(b"accept_all") + END).replace(b"--B", b"--a,b"),
            303,
        ),
    ],
)
def test_one_content_type_is_still_read(content_type: bytes, body: bytes, status: int) -> None:
    answer = post([(b"content-type", content_type), OWN], [body])
    assert answer.status == status, answer.body


# -- 2. a repeated Referer: every copy must name this origin ---------------------------------
#
# Without Origin and Sec-Fetch-Site the Referer decides. Joined, `http://testserver/a` then
# `http://evil.example/b` is one string whose origin urlsplit reads from the first copy: the
# cross-site second copy was ignored and the decision stood, where a repeated Origin is a 403.


@pytest.mark.parametrize(
    "referers",
    [
        [b"http://testserver/page", b"http://evil.example/page"],
        [b"http://evil.example/page", b"http://testserver/page"],
        [b"http://testserver/page", b"http://testserver/page"],  # a browser sends one
    ],
)
def test_a_repeated_referer_is_refused(referers: list[bytes]) -> None:
    headers = [(b"referer", value) for value in referers]
    assert_refused(post([JSON, *headers], [ACCEPT_JSON]), 403)


@pytest.mark.parametrize(
    "referer",
    [
        b"http://testserver/page",
        b"http://testserver/list?ids=1,2,3&sort=a,b",  # commas in a URL are no list
        b"http://testserver/a,b/c",
    ],
)
def test_one_referer_naming_this_origin_still_passes(referer: bytes) -> None:
    answer = post([JSON, (b"referer", referer)], [ACCEPT_JSON])
    assert answer.status == 200, answer.body


# -- 3. a refused range names the warehouse's yesterday, also in a zone ahead of UTC --------
#
# The session's fix words a refusal with UTC's dates. For a warehouse rolled up in a zone
# ahead of UTC whose date is already tomorrow's (Auckland from 11:00 UTC), that names the day
# before the warehouse's yesterday: `--from <Auckland's today>` was "after end <two days ago>
# (no end given: yesterday ...)", while `--from <Auckland's yesterday>` is served.

AUCKLAND_EVENING_UTC = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # 30 Nov, 09:00 in Auckland


class _Clock(datetime):
    """`datetime` whose now() is a fixed instant: the hours where the zones' dates differ."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Clock:
        fixed = AUCKLAND_EVENING_UTC.astimezone(tz)
        return cls.fromtimestamp(fixed.timestamp(), fixed.tzinfo)


@pytest.fixture
def auckland_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spool").mkdir()
    path = tmp_path / "auckland.duckdb"
    Warehouse(path, timezone="Pacific/Auckland").run(tmp_path / "spool")
    monkeypatch.setattr(reports, "datetime", _Clock)
    return path


def test_a_refusal_names_the_warehouses_yesterday_in_a_zone_ahead_of_utc(
    auckland_warehouse: Path,
) -> None:
    local_today = date(2026, 11, 30)
    served = run_report(auckland_warehouse, ReportQuery(kind="summary", start="2026-11-29"))
    assert served.end == local_today - timedelta(days=1)  # the end the refusal must name
    with pytest.raises(ReportError) as caught:
        run_report(auckland_warehouse, ReportQuery(kind="summary", start=str(local_today)))
    assert str(caught.value) == (
        f"start {local_today} is after end {served.end} "
        "(no end given: yesterday, the last complete day)"
    )


def test_a_refusal_without_a_warehouse_file_still_names_utcs_yesterday(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "datetime", _Clock)
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(ReportError) as caught:
        run_report(missing, ReportQuery(kind="summary", start="2026-11-30"))
    assert "after end 2026-11-28 (no end given" in str(caught.value)
    assert not missing.exists()
