"""Paths whose bytes are not UTF-8, and control characters in paths and UTM values.

uvicorn and hypercorn decode `scope["path"]` with errors="replace": `/caf%E9` and `/caf%E8`
(café and cafè, as a Latin-1 page links them) both reached the recorder as `/caf\ufffd`, one
row for two pages, shown with `�` in every report. The recorder now reads `raw_path` when
`path` holds U+FFFD and keeps each byte that is not UTF-8 as its escape (`/caf%E9`), as it
keeps an encoded slash (`%2F`). Control characters (NUL, ESC, CR, DEL, C1, bidirectional
overrides and isolates) are stored percent-encoded in a path and as a space in a UTM value,
so that no CSV export hands them to a terminal or a spreadsheet.
"""

from __future__ import annotations

import csv
import http.client
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import duckdb
import pytest

from analytics.cli import main
from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from analytics.spool import list_segments, read_segment
from analytics.warehouse import Warehouse
from tests.support import uvicorn_server
from tests.warehouse_support import fixed_clock


def _stored(raw: str) -> str:
    """What is stored for a path sent as `raw`, with `path` decoded as uvicorn decodes it."""
    return redact_sent_path(unquote(raw), raw.encode("ascii"))


@pytest.mark.parametrize("byte", range(0x80, 0x100))
def test_every_byte_that_is_not_utf8_alone_is_kept_as_its_escape(byte: int) -> None:
    assert _stored(f"/b%{byte:02X}x") == f"/b%{byte:02X}x"
    assert _stored(f"/b%{byte:02x}x") == f"/b%{byte:02X}x"  # lower-case hex: one row


def test_the_256_single_bytes_are_128_rows_not_one() -> None:
    assert len({_stored(f"/b%{byte:02X}") for byte in range(0x80, 0x100)}) == 128


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        # Latin-1 links: four pages, four rows (one `/caf\ufffd` and one `/na\ufffdve` before)
        ("/caf%E9", "/caf%E9"),
        ("/caf%E8", "/caf%E8"),
        ("/na%EFve", "/na%EFve"),
        ("/na%EEve", "/na%EEve"),
        ("/bad%FF%FE", "/bad%FF%FE"),
        ("/bad%FE%FF", "/bad%FE%FF"),
        # valid UTF-8 of every length is decoded as ever
        ("/caf%C3%A9", "/café"),
        ("/%E4%B8%AD%E6%96%87", "/中文"),
        ("/%F0%9F%98%80", "/😀"),
        ("/caf%C3%A9%E9", "/café%E9"),  # valid, then not
        ("/%E9caf%C3%A9", "/%E9café"),
        # a U+FFFD the client sent (UTF-8 EF BF BD) is a character like any other
        ("/caf%EF%BF%BD", "/caf\ufffd"),
        # overlong forms, encoded surrogates, above U+10FFFF: not UTF-8, each byte kept
        ("/x%C0%AF", "/x%C0%AF"),
        ("/x%E0%80%AF", "/x%E0%80%AF"),
        ("/a-longer-name-x%F0%80%80%AF", "/a-longer-name-x%F0%80%80%AF"),
        ("/x%ED%A0%80", "/x%ED%A0%80"),
        ("/a-longer-name-x%F4%90%80%80", "/a-longer-name-x%F4%90%80%80"),
        # truncated sequences, alone, at the end, before a valid one
        ("/t%E2%82", "/t%E2%82"),
        ("/t%F0%9F%98", "/t%F0%9F%98"),
        ("/t%F0%9F%99", "/t%F0%9F%99"),  # one U+FFFD for both before
        ("/t%E2%82x", "/t%E2%82x"),
        ("/t%E2%C3%A9", "/t%E2é"),
        # a continuation byte alone
        ("/c%80%BF", "/c%80%BF"),
        # mixed with encoded slashes, in several segments
        ("/f%E9%2Fx", "/f%E9%2Fx"),
        ("/a%2Fb/caf%E9", "/a%2Fb/caf%E9"),
        ("/caf%E9/caf%E8/caf%C3%A9", "/caf%E9/caf%E8/café"),
    ],
)
def test_a_path_keeps_the_bytes_that_are_not_utf8_as_escapes(raw: str, stored: str) -> None:
    assert _stored(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "/users/j%F6rg@example.com",  # jörg, Latin-1
        "/users/j%F6rg.m%FCller@example.de/profile",
        "/reset/q3Vt8LmZpR4xK9wYb2Nc7HeJ5sDf1gA%E9Tu6iOo8",
        "/reset/tok%E9q3Vt8LmZpR4xK9wYb2Nc7H",  # stored whole before, U+FFFD ended the run
        "/d/550e8400-e29b-41d4-a716-446655440000%E9",
        # a card's number with Latin-1 no-break spaces (0xA0), as `%C2%A0` is read
        "/pay/4111%A01111%A01111%A01111",
        "/pay/4111%C2%A01111%C2%A01111%C2%A01111",
        # windows-1252 en dashes (0x96) between a phone number's groups
        "/call/+49%96151%9612345678",
        "/imei/35693803564380%E9",
        "/a%2Fb/j%F6rg@example.com",
    ],
)
def test_the_redaction_rules_apply_to_such_segments(raw: str) -> None:
    assert _stored(raw).endswith(REDACTED) or f"{REDACTED}/" in _stored(raw)


def test_without_raw_path_a_path_with_u_fffd_is_stored_as_it_came() -> None:
    """A server that sends no raw_path (ASGI: optional): nothing tells the bytes apart."""
    assert redact_sent_path("/caf\ufffd", None) == "/caf\ufffd"
    assert redact_path("/caf\ufffd") == "/caf\ufffd"


def test_a_raw_path_that_does_not_match_leaves_the_decoded_path() -> None:
    """A middleware rewrote `path`: it wins, as for an encoded slash."""
    assert redact_sent_path("/other/n\ufffdve", b"/caf%E9") == "/other/n\ufffdve"


@pytest.mark.parametrize(
    ("path", "raw_path", "stored"),
    [
        # a server that decodes with "surrogateescape": with or without raw_path, the escapes
        ("/caf\udce9", None, "/caf%E9"),
        ("/caf\udce9", b"/caf%E9", "/caf%E9"),
        ("/f/\udcff/a/b", b"/f/%FF/a%2Fb", "/f/%FF/a%2Fb"),
        # a root path a proxy left out of raw_path, judged as path has it
        ("/app/caf\ufffd", b"/caf%E9", "/app/caf%E9"),
        ("/app\udce9/caf\ufffd", b"/caf%E9", "/app%E9/caf%E9"),
    ],
)
def test_other_servers(path: str, raw_path: bytes | None, stored: str) -> None:
    assert redact_sent_path(path, raw_path) == stored


# (sent, stored): control characters percent-encoded as UTF-8, as uvicorn receives them
CONTROLS = [
    ("/a%00b", "/a%00b"),
    ("/esc%1B%5B31mRED%1B%5B0m", "/esc%1B[31mRED%1B[0m"),
    ("/cr%0Dx%0Ay", "/cr%0Dx%0Ay"),
    ("/tab%09x", "/tab%09x"),
    ("/del%7F", "/del%7F"),
    ("/c1%C2%85x%C2%9B", "/c1%C2%85x%C2%9B"),
    ("/rlo%E2%80%AEgpj.exe", "/rlo%E2%80%AEgpj.exe"),
    ("/lre%E2%80%AAx%E2%80%ACy", "/lre%E2%80%AAx%E2%80%ACy"),
    ("/fsi%E2%81%A8x%E2%81%A9", "/fsi%E2%81%A8x%E2%81%A9"),
    ("/caf%C3%A9%00%E9", "/café%00%E9"),
]
CONTROL_CHARACTERS = [chr(code) for code in (*range(0x20), *range(0x7F, 0xA0))] + [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]


@pytest.mark.parametrize(("raw", "stored"), CONTROLS)
def test_control_characters_in_a_path_are_stored_percent_encoded(raw: str, stored: str) -> None:
    assert _stored(raw) == stored


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
def test_each_control_character_is_stored_encoded(character: str) -> None:
    encoded = quote(character, safe="")
    assert redact_sent_path(f"/x{character}y", None) == f"/x{encoded}y"
    assert redact_sent_path(f"/x{character}y", f"/x{encoded}y".encode()) == f"/x{encoded}y"


def test_the_access_log_still_gets_the_decoded_path() -> None:
    """redact_path (shared with analytics.accesslog, which encodes what it logs) is unchanged."""
    assert redact_path("/a\x00b") == "/a\x00b"


@pytest.mark.parametrize(
    ("query", "campaign"),
    [
        (b"utm_campaign=%1B%5B31mred%1B%5B0m", "[31mred [0m"),
        (b"utm_campaign=a%00b", "a b"),
        (b"utm_campaign=%E2%80%AEgpj.exe", "gpj.exe"),
        (b"utm_campaign=x%C2%85y%7Fz", "x y z"),
        (b"utm_campaign=%00%1B%7F", None),
        (b"utm_campaign=spring+sale", "spring sale"),
    ],
)
def test_control_characters_in_a_utm_value_become_spaces(
    query: bytes, campaign: str | None
) -> None:
    assert extract_utm(query)[2] == campaign


SENT_TO_UVICORN = [
    "/caf%E9",
    "/caf%E8",
    "/na%EFve",
    "/na%EEve",
    "/caf%C3%A9",
    "/a%2Fb%E9",
    "/a%00b",
    "/esc%1B%5B31mRED",
    "/cr%0Dx",
    "/del%7F",
    "/c1%C2%85",
    "/rlo%E2%80%AEgpj.exe",
]
STORED_FROM_UVICORN = [
    "/caf%E9",
    "/caf%E8",
    "/na%EFve",
    "/na%EEve",
    "/café",
    "/a%2Fb%E9",
    "/a%00b",
    "/esc%1B[31mRED",
    "/cr%0Dx",
    "/del%7F",
    "/c1%C2%85",
    "/rlo%E2%80%AEgpj.exe",
]
FORBIDDEN = ["\ufffd", *CONTROL_CHARACTERS]
# a browser's: the daily tables leave bots out
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Each path requested (twice) from a real uvicorn with a UTM campaign holding an escape
    sequence, then rolled up (events and daily tables): (spool, warehouse)."""
    folder = tmp_path_factory.mktemp("not-utf8")
    spool, db = folder / "spool", folder / "w.duckdb"
    with uvicorn_server(
        "tests.apps.recording_app:create_app", factory=True, env={"RECORDING_SPOOL": str(spool)}
    ) as (base, _):
        address = urlsplit(base)
        for raw in SENT_TO_UVICORN * 2:
            connection = http.client.HTTPConnection(address.hostname or "", address.port)
            # sent byte for byte as written (http.client does not re-encode `%`)
            connection.request(
                "GET",
                f"{raw}?utm_source=news%00letter&utm_campaign=%1B%5B31mred%E2%80%AE",
                headers={"Accept": "text/html", "User-Agent": BROWSER},
            )
            response = connection.getresponse()
            response.read()
            connection.close()
            assert response.status == 200
    # rolled up as in two days' time: today's pages are then a complete day's
    Warehouse(db, clock=fixed_clock(datetime.now(UTC) + timedelta(days=2))).run(spool)
    return spool, db


def test_under_uvicorn_each_url_sent_is_one_row(warehouse: tuple[Path, Path]) -> None:
    spool, db = warehouse
    spooled = [
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path).column("path").to_pylist()
    ]
    assert sorted(spooled) == sorted(STORED_FROM_UVICORN * 2)
    with duckdb.connect(str(db), read_only=True) as connection:
        pages = dict(
            connection.execute(
                "select path, sum(pageviews) from daily_pages group by path"
            ).fetchall()
        )
        events = [row[0] for row in connection.execute("select path from events").fetchall()]
    assert pages == dict.fromkeys(STORED_FROM_UVICORN, 2)
    assert sorted(events) == sorted(STORED_FROM_UVICORN * 2)


def test_under_uvicorn_no_u_fffd_nor_control_character_is_stored(
    warehouse: tuple[Path, Path],
) -> None:
    spool, db = warehouse
    for segment in list_segments(spool):
        for column in read_segment(segment.path).columns:
            for value in column.to_pylist():
                if isinstance(value, str):
                    assert not [c for c in FORBIDDEN if c in value], value
    with duckdb.connect(str(db), read_only=True) as connection:
        campaigns = connection.execute(
            "select distinct utm_source, utm_campaign from events"
        ).fetchall()
    assert campaigns == [("news letter", "[31mred")]


@pytest.mark.parametrize("table", ["events", "daily_pages", "daily_campaigns"])
def test_a_csv_export_holds_no_u_fffd_nor_control_character(
    warehouse: tuple[Path, Path], tmp_path: Path, table: str
) -> None:
    _spool, db = warehouse
    out = tmp_path / f"{table}.csv"
    argv = ["export", "--db", str(db), "--table", table, "--format", "csv", "--output", str(out)]
    assert main([*argv, "-q"]) == 0
    data = out.read_bytes()
    # the CSV's own line ends are CR LF or LF: none inside a field (no quoted field spans lines)
    lines = data.decode("utf-8").splitlines()
    with out.open(newline="") as handle:
        assert len(list(csv.reader(handle))) == len(lines)
    for line in lines:
        assert not [c for c in FORBIDDEN if c in line], line
    if table != "daily_campaigns":
        assert all(path.encode() in data for path in ("/caf%E9", "/caf%E8", "/a%00b"))
