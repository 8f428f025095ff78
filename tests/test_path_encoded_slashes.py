"""A token holding `/` sent as `%2F` is judged whole, as the client sent it.

Standard base64 (RFC 4648 §4) has `/` among its characters. Servers decode `%2F` in
`scope["path"]` (only `raw_path` keeps the escape), so `/reset/q3Vt8LmZ%2FpR4xK9w%2F…` reached
the recorder as short segments, none of which looked like a token, and the token was stored in
pieces. The recorder now judges the segments of `raw_path`; an encoded slash that is not part
of a token is stored encoded (`/files/a%2Fb`), told apart from `/files/a/b`.

An encoded slash between a card's digit groups (`/pay/4111%2F1111%2F1111%2F1111`) grouped
them only in a segment of 24 characters or more: a card alone was stored as sent, and the
access log, without the path as sent, logged `/pay/4111/1111/1111/1111`. It now groups them
as `+` does in any segment, and the log judges digit segments as if sent so. Segments sent
as such stay (`/compare/4090/4080/3090/3080`): a route's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.accesslog import PrivateAccessLog
from analytics.paths import redact_path, redact_sent_path
from tests.recording_support import (
    html_app,
    raw_scope,
    run_request,
    spooled,
    stored_per_target,
)
from tests.test_accesslog import _record

# 32 random bytes in standard base64: slashes every few characters, no piece 24 long
TOKEN = "q3Vt8LmZ/pR4xK9w/Yb2Nc7H/eJ5sDf1gA/Tu6iOo8="
SENT = TOKEN.replace("/", "%2F")
PIECES = TOKEN.split("/")


def _sent(path: str) -> str:
    """What a server puts in scope["path"] for a raw path (one decoding, as uvicorn does)."""
    return unquote(path)


# (raw path as sent, what is stored)
SENT_PATHS = [
    (f"/reset/{SENT}", "/reset/:redacted"),
    (f"/reset/{TOKEN.replace('/', '%2f')}", "/reset/:redacted"),  # lower-case escape
    (f"/reset/{SENT}/confirm", "/reset/:redacted/confirm"),
    (f"/a/{SENT}/b/{SENT}", "/a/:redacted/b/:redacted"),
    (f"/reset/{TOKEN.replace('/', '%252F')}", "/reset/:redacted"),  # encoded twice
    (f"/reset/{TOKEN.replace('/', '%25252F')}", "/reset/:redacted"),  # three times
    # a piece of the segment identifies on its own: as before, whatever the slashes
    ("/share/john%40example.com%2Fphotos", "/share/:redacted"),
    ("/share/photos%2Fjohn.doe@example.com", "/share/:redacted"),
    ("/d/550e8400-e29b-41d4-a716-446655440000%2Fraw", "/d/:redacted"),
    # no token: the slash the client encoded stays encoded, the rest is decoded as before
    ("/files/a%2Fb", "/files/a%2Fb"),
    ("/files/a%2fb", "/files/a%2Fb"),
    ("/wiki/AC%2FDC", "/wiki/AC%2FDC"),
    ("/docs/2024%2F11%2Fannual-report", "/docs/2024%2F11%2Fannual-report"),
    ("/menu/caf%C3%A9%2Fdrinks", "/menu/café%2Fdrinks"),
    ("/caf%C3%A9/x%2Fy", "/café/x%2Fy"),
    ("/sizes/a%2F%2Fb", "/sizes/a%2F%2Fb"),
    ("/files/%2F", "/files/%2F"),
    # a number grouped by encoded slashes, as by `+`: a card, with a date and a code, an
    # IMEI, an IBAN, a phone number (a segment of any length)
    ("/pay/4111%2F1111%2F1111%2F1111", "/pay/:redacted"),
    ("/pay/4111%2f1111%2f1111%2f1111/receipt", "/pay/:redacted/receipt"),
    ("/pay/2024-11-28-4111%2F1111%2F1111%2F1111-123", "/pay/:redacted"),
    ("/pay/3782%2F822463%2F10005", "/pay/:redacted"),  # Amex's 4-6-5
    ("/d/35%2F693803%2F564380%2F9", "/d/:redacted"),
    ("/iban/DE89%2F3704%2F0044%2F0532%2F0130%2F00", "/iban/:redacted"),
    ("/call/+49%2F151%2F12345678", "/call/:redacted"),
    ("/pay/4111%252F1111%252F1111%252F1111", "/pay/:redacted"),  # encoded twice
    # numbers that are no card, grouped so: dates, versions, a failed Luhn check
    ("/docs/2024%2F11%2F28%2F4111", "/docs/2024%2F11%2F28%2F4111"),
    ("/pay/4111%2F1111%2F1111%2F1112", "/pay/4111%2F1111%2F1111%2F1112"),
    ("/ids/1234%2F5678%2F9012%2F3456", "/ids/1234%2F5678%2F9012%2F3456"),  # starts with 1
    ("/v/1.2.3%2F4.5.6", "/v/1.2.3%2F4.5.6"),
    # no encoded slash: what the path says, as ever
    ("/compare/4090/4080/3090/3080", "/compare/4090/4080/3090/3080"),  # a route's segments
    ("/pay/4111/1111/1111/1111", "/pay/4111/1111/1111/1111"),
    ("/blog/a-perfectly-normal-post-title", "/blog/a-perfectly-normal-post-title"),
    (f"/reset/{TOKEN.replace('/', '')}", "/reset/:redacted"),
]


@pytest.mark.parametrize(("raw", "stored"), SENT_PATHS)
def test_a_path_is_judged_by_the_segments_sent(raw: str, stored: str) -> None:
    assert redact_sent_path(_sent(raw), raw.encode()) == stored


@pytest.mark.parametrize(
    ("path", "raw_path", "stored"),
    [
        # a root path kept in path and raw_path (uvicorn --root-path, ASGI's convention)
        (f"/app/reset/{TOKEN}", f"/app/reset/{SENT}".encode(), "/app/reset/:redacted"),
        # a root path a server or proxy left out of raw_path: judged as path has it
        (f"/app/reset/{TOKEN}", f"/reset/{SENT}".encode(), "/app/reset/:redacted"),
        ("/app/files/a/b", b"/files/a%2Fb", "/app/files/a%2Fb"),
        # raw_path with a query string (not ASGI's form, but harmless)
        (f"/reset/{TOKEN}", f"/reset/{SENT}?next=/x".encode(), "/reset/:redacted"),
        # bytes a server decoded with surrogateescape rather than errors="replace": the
        # byte that is not UTF-8 kept as its escape, as the encoded slash is
        ("/f/\udcff/a/b", b"/f/%FF/a%2Fb", "/f/%FF/a%2Fb"),
    ],
)
def test_a_root_path_before_the_sent_path_is_kept(path: str, raw_path: bytes, stored: str) -> None:
    assert redact_sent_path(path, raw_path) == stored


@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/files/a/b", None),  # no raw_path (ASGI: optional; Mangum sends None)
        ("/files/a/b", "/files/a%2Fb"),  # not bytes
        ("/rewritten/a/b", b"/files/a%2Fb"),  # a middleware rewrote path: it wins
        ("/a/b", b"/files/a%2Fb"),  # path shorter than the sent one
        ("/appfiles/a/b", b"/files/a%2Fb"),  # `/app` + `files`: not a root before it
        (f"/reset/{TOKEN}", f"/reset/{TOKEN}".encode()),  # slashes sent as slashes
    ],
)
def test_a_raw_path_that_does_not_match_leaves_the_decoded_path(
    path: str, raw_path: object
) -> None:
    assert redact_sent_path(path, raw_path) == redact_path(path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ("/pay/4111/1111/1111/1111", "/pay/:redacted"),
        ("/pay/4111/1111/1111/1111/receipt", "/pay/:redacted/receipt"),
        ("/pay/2024-11-28-4111/1111/1111/1111-123", "/pay/:redacted"),
        ("/pay/card-4111/1111/1111/1111", "/pay/:redacted"),
        ("/iban/DE89/3704/0044/0532/0130/00", "/iban/:redacted"),
        ("/call/+49/151/12345678", "/call/:redacted"),
        # no such number: kept, and so is what stands beside one redacted by itself
        ("/docs/2024/11/28/4111", "/docs/2024/11/28/4111"),
        ("/pay/4111/1111/1111/1112", "/pay/4111/1111/1111/1112"),
        ("/ip/192.168.1.1/2024", "/ip/:redacted/2024"),
        ("/api/v2/users/1234/orders/5678", "/api/v2/users/1234/orders/5678"),
    ],
)
def test_the_access_log_without_the_sent_path_judges_digit_segments_as_sent_encoded(
    logged: str, expected: str
) -> None:
    """Not handed the path as sent, the log sees `%2F` as `/` (uvicorn logs `path`): a
    number whose groups a `/` parts is redacted as its event was."""
    assert _log(logged) == expected


def _log(path: str) -> str:
    """The path of the access line for `path`, not handed off (uvicorn logs it quoted)."""
    record = _record(quote(path))
    PrivateAccessLog().filter(record)
    assert isinstance(record.args, tuple)
    return str(record.args[2])


@pytest.mark.parametrize("unit", ["4111%2F", "4111%2F1111%2F1111%2F1112%2F", "DE89%2F", "1%2F"])
def test_a_long_path_of_digit_groups_and_encoded_slashes_costs_one_pass(unit: str) -> None:
    # judged in the flusher, and by the log as one segment or as many: linear in its size
    raw = "/x/" + (unit * (16384 // len(unit) + 1))[:16384]
    judges: tuple[Callable[[], object], ...] = (
        lambda: redact_sent_path(_sent(raw), raw.encode()),
        lambda: _log(_sent(raw)),
    )
    for judge in judges:
        started = time.thread_time()
        judge()
        redact_path.cache_clear()
        assert time.thread_time() - started < 0.5, unit


def test_a_token_doubly_encoded_in_the_decoded_path_is_redacted_without_raw_path() -> None:
    """`%252F` reaches scope["path"] as `%2F`: one segment, judged with its slashes."""
    assert redact_path(f"/reset/{SENT}") == "/reset/:redacted"


@pytest.mark.parametrize(
    ("root_path", "path", "raw_path"),
    [
        ("", f"/reset/{TOKEN}", f"/reset/{SENT}"),
        ("/app", f"/app/reset/{TOKEN}", f"/app/reset/{SENT}"),  # ASGI: root in both
        ("/app", f"/app/reset/{TOKEN}", f"/reset/{SENT}"),  # a proxy stripped it from raw
        ("/app", f"/reset/{TOKEN}", f"/app/reset/{SENT}"),  # an old server: not in path
    ],
)
def test_the_middleware_stores_no_piece_of_the_token(
    tmp_path: Path, root_path: str, path: str, raw_path: str
) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    scope = raw_scope(path, ("203.0.113.5", 4000))
    scope["root_path"], scope["raw_path"] = root_path, raw_path.encode()
    asyncio.run(run_request(TrafficMiddleware(html_app, recorder=recorder), scope))
    stored = [row["path"] for row in spooled(recorder)]
    recorder.close()
    assert stored == [f"{root_path}/reset/:redacted"]


def test_a_batch_without_raw_paths_mixed_with_sent_slashes(tmp_path: Path) -> None:
    """Captures of a server without raw_path (None) and with one convert in one batch."""
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    app = TrafficMiddleware(html_app, recorder=recorder)
    without = raw_scope(f"/reset/{TOKEN}", ("203.0.113.5", 4000))
    without["raw_path"] = None
    sent = raw_scope(f"/reset/{TOKEN}", ("203.0.113.5", 4000))
    sent["raw_path"] = f"/reset/{SENT}".encode()
    plain = raw_scope("/files/a/b", ("203.0.113.5", 4000))
    for scope in (without, sent, plain):
        asyncio.run(run_request(app, scope))
    stored = [row["path"] for row in spooled(recorder)]
    recorder.close()
    # without raw_path nothing tells the pieces from segments: the decoded path, as before
    assert stored == [f"/reset/{TOKEN}", "/reset/:redacted", "/files/a/b"]


@pytest.fixture(scope="module")
def stored_under_uvicorn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each SENT_PATHS target requested from a real uvicorn (prefixed `/n<i>` to tell them
    apart), and the path stored for it."""
    targets = [raw for raw, _stored in SENT_PATHS]
    return stored_per_target(tmp_path_factory.mktemp("spool"), targets)


@pytest.mark.parametrize(
    ("number", "raw", "stored"), [(n, *row) for n, row in enumerate(SENT_PATHS)]
)
def test_under_uvicorn_a_token_sent_with_encoded_slashes_is_redacted(
    stored_under_uvicorn: dict[str, str], number: int, raw: str, stored: str
) -> None:
    assert stored_under_uvicorn[f"n{number}"] == f"/n{number}{stored}"


def test_under_uvicorn_no_piece_of_the_token_is_stored(
    stored_under_uvicorn: dict[str, str],
) -> None:
    stored = "\n".join(stored_under_uvicorn.values())
    assert not [piece for piece in PIECES if piece.rstrip("=") in stored]
