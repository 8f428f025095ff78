"""A page whose path holds bytes that are not UTF-8 is recognised when it posts back to itself.

uvicorn decodes `scope["path"]` with errors="replace": a Latin-1 page at `/caf%E9` reaches
the recorder as `/caf\ufffd`, while its own URL in the Referer says `/caf%E9`. Compared as
bytes, the two never matched, so the consent banner's no-JavaScript answer (a 303 back to
the page, tags included) or any post/redirect/get form on such a page counted a second
arrival from the campaign. The path the client sent (`raw_path`) is now compared with the
Referer's, as the recorder stores it (`/caf%E9`).
"""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from analytics.capture import Capture
from analytics.spool import list_segments, read_segment
from tests.support import uvicorn_server
from tests.test_capture import CHROME, convert

TAGS = b"utm_source=news&utm_campaign=launch"
NOON = datetime(2026, 11, 28, 12, tzinfo=UTC)
KEPT_E9 = "\udce9"  # byte 0xE9 as a server decoding with "surrogateescape" keeps it


def _tagged(path: str, raw_path: bytes | None, referer: bytes) -> bool:
    """Whether a tagged request for `path` (`raw_path` as sent) keeps its campaign tags."""
    row = Capture(
        NOON, path, "GET", 200, TAGS, referer, CHROME, None, None, "undecided", False, raw_path
    )
    (event,) = convert([row]).table.to_pylist()
    campaign: object = event["utm_campaign"]
    return campaign == "launch"


@pytest.mark.parametrize(
    ("path", "raw_path", "referer", "tagged"),
    [
        # uvicorn, hypercorn: U+FFFD in path, the bytes in raw_path
        ("/caf\ufffd", b"/caf%E9", b"https://example.com/caf%E9?" + TAGS, False),
        ("/caf\ufffd", b"/caf%E9", b"https://example.com/caf%e9?" + TAGS, False),
        ("/caf\ufffd/menu", b"/caf%E9/menu", b"https://example.com/caf%E9/menu?" + TAGS, False),
        ("/caf\ufffd", b"/caf%E9", b"https://www.google.com/", True),  # the arrival
        # cafè links to café with the same tags: another page, whatever U+FFFD hides
        ("/caf\ufffd", b"/caf%E8", b"https://example.com/caf%E9?" + TAGS, True),
        ("/caf\ufffd", b"/caf%E9", b"https://example.com/caf%E9?utm_source=other", True),
        # a U+FFFD the client sent (UTF-8 EF BF BD) is a character like any other
        ("/caf\ufffd", b"/caf%EF%BF%BD", b"https://example.com/caf%EF%BF%BD?" + TAGS, False),
        ("/caf\ufffd", b"/caf%EF%BF%BD", b"https://example.com/caf%E9?" + TAGS, True),
        # a root path a proxy left out of raw_path: the Referer holds it
        ("/app/caf\ufffd", b"/caf%E9", b"https://example.com/app/caf%E9?" + TAGS, False),
        ("/app/caf\ufffd", b"/caf%E9", b"https://example.com/caf%E9?" + TAGS, True),
        # a server that decodes with "surrogateescape": the bytes are in path itself
        ("/caf" + KEPT_E9, None, b"https://example.com/caf%E9?" + TAGS, False),
        ("/caf" + KEPT_E9, b"/caf%E9", b"https://example.com/caf%E9?" + TAGS, False),
        ("/caf" + KEPT_E9, None, b"https://example.com/caf%E8?" + TAGS, True),
        # no raw_path (ASGI: optional): compared as the server decoded both, as stored
        ("/caf\ufffd", None, b"https://example.com/caf%E9?" + TAGS, False),
        # a raw_path that does not match (a middleware rewrote path): path as it came
        ("/other/na\ufffdve", b"/caf%E9", b"https://example.com/other/na%EFve?" + TAGS, False),
        ("/other/na\ufffdve", b"/caf%E9", b"https://example.com/caf%E9?" + TAGS, True),
    ],
)
def test_a_page_whose_bytes_are_not_utf8_naming_itself_loses_its_tags(
    path: str, raw_path: bytes | None, referer: bytes, tagged: bool
) -> None:
    assert _tagged(path, raw_path, referer) == tagged


# (sent, Referer's path): the first is the arrival (from a search engine), the rest reloads
# of a page by itself, except the last, a link from café to cafè
UNDER_UVICORN = [
    ("/caf%E9", None),
    ("/caf%E9", "/caf%E9"),
    ("/caf%E9", "/caf%e9"),
    ("/na%EFve/menu", "/na%EFve/menu"),
    ("/caf%E8", "/caf%E9"),
]
# a browser's: bots are not counted
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def test_under_uvicorn_a_latin1_page_posting_back_to_itself_is_one_arrival(
    tmp_path: Path,
) -> None:
    spool = tmp_path / "spool"
    with uvicorn_server(
        "tests.apps.recording_app:create_app", factory=True, env={"RECORDING_SPOOL": str(spool)}
    ) as (base, _):
        address = urlsplit(base)
        for sent, named in UNDER_UVICORN:
            referer = "https://www.google.com/" if named is None else f"https://example.com{named}"
            if named is not None:
                referer += "?" + TAGS.decode()
            connection = http.client.HTTPConnection(address.hostname or "", address.port)
            # sent byte for byte as written (http.client does not re-encode `%`)
            connection.request(
                "GET",
                f"{sent}?{TAGS.decode()}",
                headers={"Accept": "text/html", "User-Agent": BROWSER, "Referer": referer},
            )
            response = connection.getresponse()
            response.read()
            connection.close()
            assert response.status == 200
    events = [
        event
        for segment in list_segments(spool)
        for event in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])  # in request order (a stable sort)
    assert [(e["path"], e["referrer_medium"], e["utm_campaign"]) for e in events] == [
        ("/caf%E9", "search", "launch"),
        ("/caf%E9", "internal", None),
        ("/caf%E9", "internal", None),
        ("/na%EFve/menu", "internal", None),
        ("/caf%E8", "internal", "launch"),
    ]
