"""`get_gate` and `ConsentMiddleware.statistics()`: the gate's counters reach a route.

With `app.add_middleware(ConsentMiddleware, ...)` Starlette builds the gate itself, lazily,
so an app has no handle on `middleware.stats`; `Depends(get_gate)` hands a route the gate
that served the request. Served by a real uvicorn, as an adopter runs it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cookiewall import ConsentMiddleware, get_gate
from tests.support import uvicorn_server
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

TAMPERED = "eyJ2IjoiMjAyNi0xMS0yOCJ9.tampered.signature-that-no-key-made"

app = FastAPI()
app.add_middleware(ConsentMiddleware, policy=make_policy(), secret_key=SECRET)


@app.get("/page")
def page(response: Response) -> dict[str, bool]:
    response.set_cookie("_ga_123", "tracking-value-never-shown")  # analytics: not allowed yet
    response.set_cookie("ad_id", "ad-value-never-shown")  # marketing
    return {"ok": True}


@app.get("/metrics")
def metrics(gate: ConsentMiddleware = Depends(get_gate)) -> dict[str, Any]:  # noqa: B008
    return gate.statistics()


@pytest.fixture(scope="module")
def served() -> Any:
    with uvicorn_server("tests.test_gate_statistics:app") as (base, _process):
        yield base


def test_a_route_reads_the_counters_of_a_gate_added_with_add_middleware(served: str) -> None:
    with httpx.Client(base_url=served) as client:
        first = client.get("/metrics").json()
        assert first["removed_cookies"] == 0
        assert first["removed_by_name"] == {}
        for _ in range(3):
            page = client.get("/page")
            assert page.status_code == 200
            assert "set-cookie" not in page.headers
        tampered = client.get("/page", headers={"cookie": f"cookiewall={TAMPERED}"})
        assert tampered.status_code == 200
        stats = client.get("/metrics").json()
    assert stats["removed_cookies"] == 8  # two cookies on each of four pages
    # Names as logged: a part that could name an account masked (cookiewall.cookienames).
    assert stats["removed_by_name"] == {"_ga_*": 4, "ad_id": 4}
    assert stats["bad_cookies"] == 1
    assert stats["receipts_failed"] == 0
    assert stats["verifications"] >= 1
    text = str(stats)
    assert "never-shown" not in text
    assert "tampered" not in text


def test_statistics_is_a_snapshot_not_the_gate_s_own_dicts() -> None:
    gate = make_app()
    call(gate, "GET", "/?set=_ga_123")
    snapshot = gate.statistics()
    assert snapshot["removed_by_name"] == {"_ga_*": 1}
    snapshot["removed_by_name"]["_ga_*"] = 99
    snapshot["removed_cookies"] = 99
    assert gate.statistics()["removed_by_name"] == {"_ga_*": 1}
    assert gate.stats["removed_cookies"] == 1


async def _gate_of(request: Request) -> JSONResponse:
    try:
        gate = get_gate(request)
    except RuntimeError as exc:
        return JSONResponse({"error": str(exc)})
    return JSONResponse({"served_by": id(gate)})


def test_the_gate_that_served_the_request_is_the_one_handed_out() -> None:
    inner = Starlette(routes=[Route("/gate", _gate_of)])
    gate = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET)
    assert call(gate, "GET", "/gate").json() == {"served_by": id(gate)}


def test_without_a_gate_the_route_hears_why() -> None:
    bare = Starlette(routes=[Route("/gate", _gate_of)])
    answer = call(bare, "GET", "/gate").json()
    assert "add cookiewall.ConsentMiddleware" in answer["error"]
