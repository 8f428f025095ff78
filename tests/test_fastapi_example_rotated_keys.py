"""The FastAPI example reads `COOKIEWALL_SECRET` as the Starlette example documents it:
comma-separated keys, newest first, so a decision signed with the previous key still counts
after a rotation. It used to pass the whole value on as one key."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from cookiewall import ConsentMiddleware

NEW = "fastapi-example-new-key-0123456789"
OLD = "fastapi-example-old-key-0123456789"


def _decision_signed_with(key: str) -> str:
    from examples.starlette_app import POLICY

    gate = ConsentMiddleware(Starlette(), policy=POLICY, secret_key=key)

    async def decide() -> str:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answer = await c.post("/consent", json={"action": "accept_all"})
            return answer.cookies["cookiewall"]

    return asyncio.run(decide())


@pytest.mark.parametrize(
    ("setting", "signed_with"),
    [
        (f"{NEW},{OLD}", OLD),
        (f"{NEW}, {OLD}", OLD),
        (f"{NEW},{OLD}", NEW),
        (NEW, NEW),
    ],
)
def test_a_decision_signed_with_any_listed_key_is_read(
    setting: str, signed_with: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOKIEWALL_VAR", str(tmp_path))
    monkeypatch.setenv("COOKIEWALL_SECRET", setting)
    monkeypatch.delitem(sys.modules, "examples.fastapi_app", raising=False)
    app = importlib.import_module("examples.fastapi_app").app
    cookie = _decision_signed_with(signed_with)

    async def state() -> dict[str, object]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answer = await c.get("/consent", headers={"Cookie": f"cookiewall={cookie}"})
            assert answer.status_code == 200, answer.text
            body: dict[str, object] = answer.json()
            return body

    body = asyncio.run(state())
    assert body["decided"] is True
    assert body["summary"] == "all"
