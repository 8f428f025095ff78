"""A token holding `/` sent as `%2F` is judged whole, as the client sent it.

Standard base64 (RFC 4648 §4) has `/` among its characters. Servers decode `%2F` in
`scope["path"]` (only `raw_path` keeps the escape), so `/reset/q3Vt8LmZ%2FpR4xK9w%2F…` reached
the recorder as short segments, none of which looked like a token, and the token was stored in
pieces. The recorder now judges the segments of `raw_path`; an encoded slash that is not part
of a token is stored encoded (`/files/a%2Fb`), told apart from `/files/a/b`.
"""

from __future__ import annotations

import asyncio
import http.client
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.paths import redact_path, redact_sent_path
from analytics.spool import list_segments, read_segment
from tests.recording_support import html_app, raw_scope, run_request, spooled
from tests.support import uvicorn_server

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
    # no encoded slash: what the path says, as ever
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
    spool = tmp_path_factory.mktemp("spool")
    env = {"RECORDING_SPOOL": str(spool)}
    with uvicorn_server("tests.apps.recording_app:create_app", factory=True, env=env) as (
        base,
        _,
    ):
        address = urlsplit(base)
        for number, (raw, _stored) in enumerate(SENT_PATHS):
            connection = http.client.HTTPConnection(address.hostname or "", address.port)
            connection.request("GET", f"/n{number}{raw}")  # sent byte for byte as written
            response = connection.getresponse()
            response.read()
            connection.close()
            assert response.status == 200
    paths = [
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path).column("path").to_pylist()
    ]
    return {path.split("/")[1]: path for path in paths}


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
