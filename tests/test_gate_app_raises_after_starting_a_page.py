"""An app that raises after it started a page: the client gets what it gets without the gate,
and the traffic recorder records that, whichever side of the gate it sits on.

The gate holds an undecided visitor's page start until the body shows where the banner goes.
When the app raised meanwhile, nothing had been sent, so the server answered 500 (uvicorn's
plain-text "Internal Server Error"), while a TrafficMiddleware inside the gate had already
recorded the app's 200 page view. A decided visitor, for whom nothing is held, got the 200
start and a cut-off page. Now the gate sends what it held before the exception goes on to
the server: every visitor gets the app's 200, cut off (the server closes the connection),
and every recorder, inside or outside the gate, `record="pages"` or `"all"`, records the 200
the client got.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from analytics.spool import list_segments, read_segment
from tests.apps.raising_pages import PAGE, STACKS
from tests.support import uvicorn_server

NAVIGATE = {"accept": "text/html", "sec-fetch-dest": "document"}
PAGES = ("cut", "bare")
VISITORS = ("undecided", "decided")


def _visit(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[int, bytes, bool]:
    """(status, body received, whether the body was cut off)."""
    received = b""
    with client.stream("GET", url, headers=headers) as response:
        try:
            for chunk in response.iter_raw():
                received += chunk
        except httpx.RemoteProtocolError:
            return response.status_code, received, True
        return response.status_code, received, False


@pytest.fixture(scope="module", params=["h11", "httptools"])
def answers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[tuple[str, str, str], tuple[int, bytes, bool]], Path]:
    """Every (stack, page, visitor) visited once on a real uvicorn; the spool, flushed by
    the server's shutdown."""
    spool = tmp_path_factory.mktemp("spool")
    server = uvicorn_server(
        "tests.apps.raising_pages:app",
        env={"RAISING_SPOOL": str(spool)},
        extra_args=("--http", request.param),
    )
    seen = {}
    with server as (base, _), httpx.Client(base_url=base, timeout=30) as client:
        decided = client.post("/consent", json={"action": "reject_all"})
        assert decided.status_code == 200
        cookie = {"cookie": f"cookiewall={decided.cookies['cookiewall']}"}
        client.cookies.clear()
        for stack in STACKS:
            for page in PAGES:
                for visitor in VISITORS:
                    headers = {**NAVIGATE, **(cookie if visitor == "decided" else {})}
                    seen[(stack, page, visitor)] = _visit(client, f"/{stack}/{page}", headers)
    return seen, spool


def _recorded(spool: Path, stack: str) -> dict[str, list[tuple[str, int]]]:
    """The (consent, status) of each event the stack recorded, by page."""
    found: dict[str, list[tuple[str, int]]] = {page: [] for page in PAGES}
    for segment in list_segments(spool / stack):
        for row in read_segment(segment.path).to_pylist():
            found[row["path"].rpartition("/")[2]].append((row["consent"], row["status"]))
    return found


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("stack", STACKS)
def test_the_client_gets_the_apps_start_cut_off(
    answers: tuple[dict[tuple[str, str, str], tuple[int, bytes, bool]], Path],
    stack: str,
    page: str,
    visitor: str,
) -> None:
    status, body, cut_off = answers[0][(stack, page, visitor)]
    assert status == 200
    assert cut_off
    assert body == (PAGE[:20] if page == "cut" else b"")


@pytest.mark.parametrize("stack", STACKS)
def test_the_recorder_records_what_the_client_got(
    answers: tuple[dict[tuple[str, str, str], tuple[int, bytes, bool]], Path], stack: str
) -> None:
    seen, spool = answers
    recorded = _recorded(spool, stack)
    consent = {"undecided": "undecided", "decided": "none"}  # the decided visitor rejected all
    for page in PAGES:
        got = sorted((consent[v], seen[(stack, page, v)][0]) for v in VISITORS)
        assert sorted(recorded[page]) == got == [("none", 200), ("undecided", 200)], page
