"""The batch conversion of captures into events (analytics.capture).

The converter works column by column, once per distinct value; these tests hold it to what a
plain row-by-row conversion built from the same parts (referrer parser, device classifier,
path redaction, UTM extraction, visitor hash) gives, over batches full of the awkward cases,
and check that one bad value drops only its own rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from analytics.capture import Capture, batch_to_table, convert_captures
from analytics.event import EVENT_SCHEMA, Event
from analytics.paths import extract_utm, redact_path
from analytics.referrers import DIRECT, Referrer, referrer_parser
from analytics.useragents import classify_user_agent

SITE = "example.com"
parse_referrer = referrer_parser(SITE)
MIDNIGHT = datetime(2026, 11, 28, tzinfo=UTC)
CHROME = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
IPHONE = (
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
)
BOT = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

REFERERS: list[bytes | None] = [
    None,
    b"",
    b"https://www.google.com/search?q=secret",
    b"https://news.ycombinator.com/item?id=1",
    b"https://example.com/internal",
    b"https://user:pw@blog.example.org/post",
    b"http://[2001:db8::1]/x",
    b"android-app://com.google.android.gm/",
    b"not a url at all",
    b"https://semalt.com/",  # on the shipped referrer-spam list
    # the page itself, tags included (a form posted back to it): its tags are not a new arrival
    b"https://example.com/blog/post-1?utm_source=news&utm_medium=email&utm_campaign=launch",
    b"http://example.com/?q=1&utm_source=x",
]
PATHS = ["/", "/blog/post-1", "/users/jane@example.org", "/reset/8f14e45fceea167a5a36dedd4bea2543"]
QUERIES = [b"", b"utm_source=news&utm_medium=email&utm_campaign=launch", b"q=1&utm_source=x"]
AGENTS = [CHROME, IPHONE, BOT, b""]
PEERS = ["203.0.113.7", "198.51.100.1", "2001:db8::42"]


def fake_visitor_id(day: date, peer: str | None, forwarded: bytes | None, agent: bytes) -> int:
    # Deterministic and sensitive to every part, so a wrong key shows as a wrong id.
    return hash((day, peer, forwarded, agent)) & 0x7FFF_FFFF_FFFF


def expected_event(capture: Capture) -> Event | None:
    """The row-by-row oracle: one capture through the same parts, one field at a time."""
    referrer = parse_referrer(capture.referer) if capture.referer else DIRECT
    if referrer.spam:
        return None
    ts = capture.ts
    ts = datetime.fromtimestamp(ts, UTC) if isinstance(ts, float) else ts.astimezone(UTC)
    ts = ts.replace(microsecond=0)  # the recorder keeps whole seconds
    device = classify_user_agent(capture.user_agent)
    visitor = (
        fake_visitor_id(ts.date(), capture.peer, capture.forwarded_for, capture.user_agent)
        if capture.hash_allowed
        else None
    )
    utm = extract_utm(capture.query) if capture.query else (None, None, None)
    own_urls = {
        f"{scheme}://{SITE}{capture.path}?".encode() + capture.query for scheme in ("http", "https")
    }
    if referrer.medium == "internal" and capture.query and capture.referer in own_urls:
        utm = (None, None, None)
    return Event(ts, SITE, redact_path(capture.path), capture.method, capture.status,
                 referrer.host, referrer.domain, referrer.medium, referrer.source, *utm, visitor,
                 device.device, device.is_bot, capture.consent)  # fmt: skip


def random_captures(seed: int, n: int) -> list[Capture]:
    rng = random.Random(seed)
    captures = []
    for _ in range(n):
        # around midnight, so that one batch spans two salt days
        stamp = MIDNIGHT + timedelta(seconds=rng.uniform(-600, 600))
        hashed = rng.random() < 0.8
        captures.append(
            Capture(
                stamp.timestamp() if rng.random() < 0.5 else stamp,
                rng.choice(PATHS),
                rng.choice(["GET", "HEAD", "POST"]),
                rng.choice([200, 301, 404]),
                rng.choice(QUERIES),
                rng.choice(REFERERS),
                rng.choice(AGENTS),
                rng.choice(PEERS) if hashed else None,
                rng.choice([None, b"192.0.2.9"]) if hashed else None,
                rng.choice(["undecided", "all", "none", "custom"]),
                hashed,
            )
        )
    return captures


def events_of(table: Any) -> list[Event]:
    return [Event(**{**row, "ts": row["ts"].astimezone(UTC)}) for row in table.to_pylist()]


def convert(captures: list[Any], **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "site": SITE,
        "parse_referrer": parse_referrer,
        "visitor_id_of": fake_visitor_id,
    }
    return convert_captures(captures, **{**options, **kwargs})


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_converts_exactly_as_one_capture_at_a_time(seed: int) -> None:
    captures = random_captures(seed, 400)
    converted = convert(captures)
    expected = [expected_event(capture) for capture in captures]
    assert events_of(converted.table) == [event for event in expected if event is not None]
    assert converted.spam == expected.count(None) > 0
    assert (converted.failed, converted.failure) == (0, "")
    assert converted.table.schema == EVENT_SCHEMA


def test_visitor_ids_follow_the_utc_day_of_each_capture() -> None:
    before = MIDNIGHT - timedelta(microseconds=1)
    same = Capture(before, "/", "GET", 200, b"", None, CHROME, PEERS[0], None, "all", True)
    after = same._replace(ts=MIDNIGHT.astimezone(timezone(timedelta(hours=-3))))
    ids = convert([same, after, same]).table.column("visitor_id").to_pylist()
    assert ids[0] == ids[2] == fake_visitor_id(before.date(), PEERS[0], None, CHROME)
    assert ids[1] == fake_visitor_id(MIDNIGHT.date(), PEERS[0], None, CHROME)


def test_each_distinct_value_is_worked_out_once_per_batch() -> None:
    calls: list[tuple[Any, ...]] = []
    parsed: list[bytes] = []

    def counting_id(*key: Any) -> int:
        calls.append(key)
        return len(calls)

    def counting_parse(raw: bytes) -> Referrer:
        parsed.append(raw)
        return parse_referrer(raw)

    base = Capture(MIDNIGHT, "/", "GET", 200, b"", REFERERS[3], CHROME, PEERS[0], None, "all", True)
    batch = [base, base._replace(peer=PEERS[1]), base, base._replace(peer=PEERS[1])] * 50
    ids = convert(batch, visitor_id_of=counting_id, parse_referrer=counting_parse)
    assert len(calls) == 2
    assert parsed == [REFERERS[3]]
    assert ids.table.column("visitor_id").to_pylist()[:4] == [1, 2, 1, 2]


CRASH = b"https://crash.example/"


def _failing(value: Any, real: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        if raw == value:
            raise RuntimeError("boom: " + repr(raw))
        return real(raw)

    return parse


@pytest.mark.parametrize(
    ("bad", "kwargs"),
    [
        ({"status": 10**12}, {}),
        ({"status": "200"}, {}),
        ({"method": None}, {}),
        ({"consent": b"all"}, {}),
        ({"ts": "not a time"}, {}),
        ({"referer": CRASH}, {"parse_referrer": _failing(CRASH, parse_referrer)}),
        ({"peer": "192.0.2.66"}, {"visitor_id_of": lambda _d, p, _f, _u: 1 // (p != "192.0.2.66")}),
    ],
    ids=["huge-status", "text-status", "no-method", "bytes-consent", "bad-clock",
         "referrer-raises", "hash-raises"],
)  # fmt: skip
def test_one_bad_value_drops_only_its_own_rows(bad: dict[str, Any], kwargs: dict[str, Any]) -> None:
    good = Capture(
        MIDNIGHT, "/ok", "GET", 200, b"", REFERERS[2], CHROME, PEERS[0], None, "all", True
    )
    broken = good._replace(path="/bad", **bad)
    converted = convert([good, broken, good, broken, good], **kwargs)
    assert [event.path for event in events_of(converted.table)] == ["/ok"] * 3
    assert (converted.failed, converted.spam) == (2, 0)
    assert converted.failure in {"ValueError", "TypeError", "AttributeError", "RuntimeError",
                                 "ZeroDivisionError", "ArrowInvalid", "ArrowTypeError"}  # fmt: skip
    assert "boom" not in converted.failure


def test_a_spam_referrer_that_also_fails_elsewhere_counts_once() -> None:
    spam = Capture(
        MIDNIGHT, "/", "GET", 10**12, b"", REFERERS[-1], CHROME, None, None, "all", False
    )
    converted = convert([spam])
    assert converted.table.num_rows == 0
    assert converted.spam + converted.failed == 1


def test_a_mixed_batch_keeps_its_order_and_converts_only_captures() -> None:
    two_hours_east = MIDNIGHT.astimezone(timezone(timedelta(hours=2)))
    event = Event(two_hours_east, SITE, "/as-is", "GET", 200, None, None, "direct", None, None,
                  None, None, 7, "desktop", False, "all")  # fmt: skip
    capture = Capture(MIDNIGHT, "/users/jane@example.org", "GET", 200, b"", None, CHROME,
                      PEERS[0], None, "all", True)  # fmt: skip
    converted = batch_to_table(
        [capture, event, event, capture],
        site=SITE,
        parse_referrer=parse_referrer,
        visitor_id_of=fake_visitor_id,
    )
    rows = events_of(converted.table)
    assert [row.path for row in rows] == [
        "/users/:redacted",
        "/as-is",
        "/as-is",
        "/users/:redacted",
    ]
    assert rows[1].ts == MIDNIGHT
    assert rows[1].visitor_id == 7


def test_hashing_off_for_the_whole_batch_gives_null_ids_without_calling_the_hasher() -> None:
    def no_call(*_: Any) -> int:
        raise AssertionError("hashed a visitor who declined")

    capture = Capture(MIDNIGHT, "/", "GET", 200, b"", None, CHROME, None, None, "none", False)
    converted = convert([capture] * 3, visitor_id_of=no_call)
    assert converted.table.column("visitor_id").to_pylist() == [None] * 3


def test_an_empty_batch_is_an_empty_table() -> None:
    converted = convert([])
    assert converted.table.num_rows == 0
    assert converted.table.schema == EVENT_SCHEMA
