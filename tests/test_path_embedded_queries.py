"""A query or a fragment with parameters encoded into the path is not stored; a hex IPv4
referrer is `(ip)`.

Link-out and redirect routes carry a whole target URL in a segment
(`/go/https%3A%2F%2Fshop.example%2Fcb%3Fpin%3D482913`), and servers decode `%3F` and `%23` in
scope["path"]: the target's query (a one-time code, a user name, a token) was stored as
`/go/https:%2F%2Fshop.example%2Fcb?pin=482913`, a `?` that reads as a real query, which is
never stored. What an encoded `?` or `#` starts is now dropped to the end of the path when a
parameter (an `=`) follows it, and stored as `:redacted` after the mark, kept encoded
(`/qp/page%3F:redacted`). A mark with no parameter after it is a character of a name
(`/wiki/C%23_(programming_language)`, `/blog/why%3F-it-matters`): kept, encoded too (it was
stored decoded, `…/C#_(…)`).

The parameter is looked for in the segment the client sent the mark in (review 230 F3): an
`=` in a route's later segment (`/questions/tagged/c%23/sort=newest`) cut the path there, and
an `&` (`cb%3F482913%26jdoe`) or an encoded `/` after the mark (`cb%23%2Fprofile%2Fjdoe`, a
hash route) was no parameter, so those queries were kept. A stored `%23` or `%3F` is judged
again as the `#` or `?` it stands for (F4): its hex digits made a token of what was kept.

A `Referer` whose host spells an IPv4 address in hex (`http://0xcb007168/`, inet_aton's and
the WHATWG URL parser's form) kept that host, while its decimal and octal spellings were `(ip)`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.accesslog import PrivateAccessLog
from analytics.paths import redact_path, redact_sent_path
from analytics.referrers import parse_referrer, referrer_parser
from tests.recording_support import (
    SITE,
    capture,
    html_app,
    raw_scope,
    run_request,
    spooled,
    stored_per_target,
)

# Each embedded query or fragment below holds one of these; none may be stored or logged.
SECRETS = ("QPENCcanary", "482913", "jdoe1984", "acct-4417", "frag-tok-77", "twice-tok")

# (the path as the client sent it, what is stored): a query or a fragment with parameters
EMBEDDED_QUERIES = [
    ("/qp/page%3Ftoken%3DQPENCcanary", "/qp/page%3F:redacted"),
    ("/qp/page%3ftoken%3dQPENCcanary", "/qp/page%3F:redacted"),  # lower-case escapes
    ("/qp/page%3Ftoken=QPENCcanary", "/qp/page%3F:redacted"),  # an `=` sent as it is
    (
        "/go/https%3A%2F%2Fshop.example%2Fcb%3Fpin%3D482913%26user%3Djdoe1984",
        "/go/https:%2F%2Fshop.example%2Fcb%3F:redacted",
    ),
    # a URL's query runs to its end, `/` included
    ("/go/https://shop.example/cb%3Fnext=/acct-4417/x", "/go/https://shop.example/cb%3F:redacted"),
    # an `&` after the mark joins values with no name (a query all the same)
    ("/go/https%3A%2F%2Fshop%2Fcb%3F482913%26jdoe1984", "/go/https:%2F%2Fshop%2Fcb%3F:redacted"),
    ("/go/cb%3F482913%26jdoe1984", "/go/cb%3F:redacted"),
    ("/auth/done%23access_token%3Dfrag-tok-77", "/auth/done%23:redacted"),  # a fragment
    # the cut is at the mark nearest before the first parameter: the marks of names before
    # it stay, what follows it goes, other marks included
    ("/auth/done%23a%3Fpin%3D482913", "/auth/done%23a%3F:redacted"),
    ("/issues/%235-title/share%3Fpin%3D482913", "/issues/%235-title/share%3F:redacted"),
    ("/tags/c%23/go%3Ftoken%3DQPENCcanary%23frag-tok-77", "/tags/c%23/go%3F:redacted"),
    # encoded twice or three times (a redirect chain encodes at every hop): a `%3F` in path
    ("/qp/page%253Ftoken%253Dtwice-tok", "/qp/page%3F:redacted"),
    ("/qp/page%25253Ftoken%25253Dtwice-tok", "/qp/page%253F:redacted"),
    # with an encoded slash (judged from raw_path) and bytes that are not UTF-8
    ("/files/a%2Fb/x%3Fq%3DQPENCcanary", "/files/a%2Fb/x%3F:redacted"),
    ("/caf%E9%3Fq%3DQPENCcanary", "/caf%E9%3F:redacted"),
    # the segment that holds the mark is judged whole too, as before: redacted whole, it hides
    # its query with it, and a binary token with 0x23 and 0x3D bytes is not cut down to its
    # first bytes (`%90%5BAB`, not binary enough alone)
    ("/share/john%40example.com%3Fpin%3D482913", "/share/:redacted"),
    ("/download/%90%5BAB%23%3D%BD%11%EE%FE%80%81%82%C7%D0/x", "/download/:redacted"),
]
# ... and marks that are characters of names, kept (encoded), their segments judged as any
NAMES_WITH_MARKS = [
    ("/wiki/C%23_(programming_language)", "/wiki/C%23_(programming_language)"),
    ("/tags/c%23/info", "/tags/c%23/info"),
    ("/issues/%235-title", "/issues/%235-title"),
    ("/lang/f%23/intro", "/lang/f%23/intro"),
    ("/hashtag/%23blacklivesmatter", "/hashtag/%23blacklivesmatter"),
    ("/questions/tagged/c%23", "/questions/tagged/c%23"),
    ("/blog/why%3F-it-matters", "/blog/why%3F-it-matters"),
    ("/faq/how%3F/details", "/faq/how%3F/details"),
    ("/blog/why%3F/", "/blog/why%3F/"),
    ("/faq/why%3F/q%26a", "/faq/why%3F/q&a"),  # an `&` alone is no parameter
    ("/wiki/C%2523", "/wiki/C%23"),  # encoded twice
    # a value with no name after a mark is judged as any segment is: a card's number, an
    # address, a binary token (a 0x23 byte in it, no parameter) redacted, the rest kept
    ("/go/cb%3F4111111111111111", "/go/:redacted"),
    ("/go/cb%3Fjohn%40example.com", "/go/:redacted"),
    ("/download/%90%5B%BD%11%EE%23%FE%80%81%82%C7%D0/x", "/download/:redacted/x"),
    ("/blog/a-plain-page", "/blog/a-plain-page"),
    # a parameter is looked for in the segment the client sent the mark in: a route's later
    # `key=value` segment is no query of a name's `#` or `?`
    ("/questions/tagged/c%23/sort=newest", "/questions/tagged/c%23/sort=newest"),
    ("/lang/c%23/v=8.0/", "/lang/c%23/v=8.0/"),
    ("/blog/why%3F-it-matters/comments/page=2", "/blog/why%3F-it-matters/comments/page=2"),
    ("/cdn/image%23v2/w=300,h=200/photo.jpg", "/cdn/image%23v2/w=300,h=200/photo.jpg"),
]
# ... and an encoded `/` after the mark in that segment: an embedded URL keeps its own `/`
# encoded, so what follows its `?` or `#` is its query's or its fragment's (a hash route).
# Told from a `/` sent as it is only with raw_path.
QUERIES_PAST_AN_ENCODED_SLASH = [
    ("/go/https%3A%2F%2Fx%2Fcb%23%2Fprofile%2Fjdoe1984", "/go/https:%2F%2Fx%2Fcb%23:redacted"),
    (
        "/go/https%3A%2F%2Fx.example%2Flogin%3Fuser%2Fjdoe1984%2Fpin%2F482913",
        "/go/https:%2F%2Fx.example%2Flogin%3F:redacted",
    ),
    ("/app%23%2Fprofile%2Fjdoe1984", "/app%23:redacted"),
]
SENT_PATHS = EMBEDDED_QUERIES + NAMES_WITH_MARKS + QUERIES_PAST_AN_ENCODED_SLASH
DECODED_PATHS = EMBEDDED_QUERIES + NAMES_WITH_MARKS  # judged alike without raw_path


def _decoded(raw: str) -> str:
    """scope["path"] for a raw path, as uvicorn decodes it (UTF-8, errors replaced)."""
    return unquote(raw, errors="replace")


@pytest.mark.parametrize(("raw", "stored"), SENT_PATHS)
def test_a_query_encoded_into_the_path_is_not_stored_a_name_is(raw: str, stored: str) -> None:
    assert redact_sent_path(_decoded(raw), raw.encode()) == stored
    # stored paths are judged again as they are (README, "Redaction is not retroactive")
    assert redact_path(stored) == stored


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        # no raw_path (Mangum), or a server that leaves the query in path: `?` and `#` as such
        ("/qp/page?token=QPENCcanary", "/qp/page%3F:redacted"),
        (
            "/go/https://shop.example/cb?pin=482913&user=jdoe1984",
            "/go/https://shop.example/cb%3F:redacted",
        ),
        ("/auth/done#access_token=frag-tok-77", "/auth/done%23:redacted"),
        ("/qp/page%3Ftoken%3Dtwice-tok", "/qp/page%3F:redacted"),  # `%253F` decoded once
        ("/questions/tagged/c#", "/questions/tagged/c%23"),
        ("/wiki/C#_(programming_language)", "/wiki/C%23_(programming_language)"),
        ("/blog/why?-it-matters", "/blog/why%3F-it-matters"),
    ],
)
def test_without_raw_path_the_decoded_marks_are_judged_alike(path: str, stored: str) -> None:
    assert redact_sent_path(path, None) == stored


@pytest.mark.parametrize("with_raw_path", [True, False])
def test_the_recorder_stores_no_embedded_query(tmp_path: Path, with_raw_path: bool) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    app = TrafficMiddleware(html_app, recorder=recorder)
    sent_paths = SENT_PATHS if with_raw_path else DECODED_PATHS
    for number, (raw, _stored) in enumerate(sent_paths):
        scope = raw_scope(_decoded(f"/n{number}{raw}"), ("203.0.113.5", 4000))
        scope["raw_path"] = f"/n{number}{raw}".encode() if with_raw_path else None
        asyncio.run(run_request(app, scope))
    stored = {row["path"].split("/")[1]: row["path"] for row in spooled(recorder)}
    recorder.close()
    if with_raw_path:
        assert stored == {f"n{n}": f"/n{n}{path}" for n, (_raw, path) in enumerate(SENT_PATHS)}
    kept = "\n".join(stored.values())
    assert not [secret for secret in SECRETS if secret in kept]
    assert "?" not in kept
    assert "#" not in kept


@pytest.mark.parametrize(("raw", "stored"), DECODED_PATHS)
def test_the_private_access_log_writes_no_embedded_query(raw: str, stored: str) -> None:
    # uvicorn logs the decoded path quoted again, with the real query string after it
    logged = quote(_decoded(raw)) + "?utm_source=x"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:51234", "GET", logged, "1.1", 200),
        None,
    )
    PrivateAccessLog().filter(record)
    line = record.getMessage()
    assert not [secret for secret in SECRETS if secret in unquote(unquote(line))], line


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("/#1234512345q3Vt8LmZbpage", "/%231234512345q3Vt8LmZbpage"),
        ("/%3f123454111111111111111batoken;", "/%3F123454111111111111111batoken;"),
        ("/b%3F::", "/b%3F::"),
        ("/:%23::", "/:%23::"),
        ("/%E9%3Fpagex14111111111111111", "/%E9%3Fpagex14111111111111111"),
    ],
)
def test_a_stored_mark_is_judged_again_as_the_character_it_stands_for(
    raw: str, stored: str
) -> None:
    # `%23` and `%3F` are stored for `#` and `?`: their hex digits, read again, made a token
    # (`231234512345q3Vt8LmZbpage`) or an IPv6 address (`3F::`) of what was kept
    assert redact_sent_path(_decoded(raw), raw.encode()) == stored
    assert redact_sent_path(stored, None) == stored


@pytest.fixture(scope="module")
def stored_under_uvicorn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each SENT_PATHS target requested from a real uvicorn (prefixed `/n<i>` to tell them
    apart), with a query string of its own, and the path stored for it."""
    targets = [raw for raw, _stored in SENT_PATHS]
    return stored_per_target(tmp_path_factory.mktemp("spool"), targets, "?utm_source=news")


def test_under_uvicorn_no_embedded_query_is_stored(stored_under_uvicorn: dict[str, str]) -> None:
    assert stored_under_uvicorn == {
        f"n{number}": f"/n{number}{stored}" for number, (_raw, stored) in enumerate(SENT_PATHS)
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"http://0xcb007168/",
        b"http://0XCB007168/",  # the `0x` and the digits in either case
        b"https://0xcb007168:8443/page?q=1",
        b"http://0xcb.0.0x71.0x68/",  # per part, as inet_aton reads a dotted address
        b"http://0xcb.0x7168/",  # two parts: the last one holds three bytes
        b"http://0xcb.0.0161.104/",  # hex, octal and decimal mixed
        b"http://0xcb007168./",  # a trailing dot
        b"http://%30xcb007168/",  # percent-encoded
        "http://０ｘｃｂ００７１６８/".encode(),  # full-width, as IDNA maps it
        b"http://0x/",  # `0x` alone is 0: 0.0.0.0
        # the decimal and octal spellings, as before
        b"http://3405803880/",
        b"http://0313.0.0161.0150/",
    ],
)
def test_a_hex_ipv4_referrer_is_stored_as_ip(raw: bytes) -> None:
    found = parse_referrer(raw, SITE)
    assert (found.host, found.domain, found.source, found.medium) == (
        "(ip)",
        "(ip)",
        "(ip)",
        "referral",
    )
    assert referrer_parser(SITE)(raw) == found  # the cached parser the recorder uses


@pytest.mark.parametrize("host", ["0xcafe.com", "0x1.example", "0xdeadbeef.example.org"])
def test_a_name_starting_with_0x_stays(host: str) -> None:
    assert parse_referrer(f"https://{host}/".encode(), SITE).host == host


def test_no_hex_address_reaches_the_spool(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    for number, referer in enumerate((b"http://0xcb007168/", b"http://0xcb.0.0x71.0x68/")):
        recorder.add(capture(f"/page-{number}", referer=referer))
    rows = spooled(recorder)
    recorder.close()
    assert [(row["referrer_host"], row["referrer_domain"]) for row in rows] == [
        ("(ip)", "(ip)")
    ] * 2
