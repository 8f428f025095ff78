"""WebSocket routes behind the gate, driven over ASGI: a handshake's Set-Cookie is gated
like any response's, and `get_consent` in a WebSocket route says why it has no consent."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket

from cookiewall import Consent, ConsentMiddleware, Policy
from cookiewall.dependencies import get_consent
from tests.support import ROOT

EXAMPLE_TOML = ROOT / "examples" / "cookiewall.toml"

KEY = "integration-review-3-key-0123456789"


UNDECIDED = None

ACCEPT_ALL = {"action": "accept_all"}

REJECT_ALL = {"action": "reject_all"}

# --- WebSocket routes (driven over ASGI: the venv has no websockets/wsproto for uvicorn) ---------


def ws_app() -> Any:
    # (FastAPI resolves the handlers' string annotations in this module's globals.)
    app = FastAPI()

    @app.websocket("/ws")
    async def plain(websocket: WebSocket) -> None:
        await websocket.accept(
            headers=[(b"set-cookie", b"_ga=GA1.1.4.4"), (b"set-cookie", b"session=ws")]
        )
        await websocket.send_json({"hello": 1})
        await websocket.close()

    @app.websocket("/ws-consent")
    async def with_consent(
        websocket: WebSocket, consent: Annotated[Consent, Depends(get_consent)]
    ) -> None:
        await websocket.accept()
        await websocket.close()

    policy = Policy.from_toml(EXAMPLE_TOML)
    return ConsentMiddleware(app, policy=policy, secret_key=KEY)


async def handshake(app: Any, path: str, cookie: str = "") -> list[dict[str, Any]]:
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("203.0.113.5", 40000),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    incoming: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def consent_cookie(app: Any, decision: dict[str, Any]) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post("/consent", json=decision)
    return answer.headers["set-cookie"].split(";", 1)[0]


@pytest.mark.parametrize(
    ("decision", "cookies"),
    [(UNDECIDED, {b"session"}), (REJECT_ALL, {b"session"}), (ACCEPT_ALL, {b"session", b"_ga"})],
)
def test_a_websocket_handshakes_set_cookies_are_gated(
    decision: dict[str, Any] | None, cookies: set[bytes]
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        app = ws_app()
        cookie = "" if decision is None else await consent_cookie(app, decision)
        return await handshake(app, "/ws", cookie)

    sent = asyncio.run(scenario())
    accept = sent[0]
    assert accept["type"] == "websocket.accept"
    assert {value.split(b"=", 1)[0] for key, value in accept["headers"]} == cookies
    assert sent[1]["type"] == "websocket.send"
    assert json.loads(sent[1]["text"]) == {"hello": 1}


def test_get_consent_in_a_websocket_route_says_why_it_has_none() -> None:
    # Websocket scopes pass through the gate untouched (README "Options"): a route that asks
    # for the dependency gets a message that says so, not a bare KeyError.
    with pytest.raises(RuntimeError, match="websocket scopes pass through"):
        asyncio.run(handshake(ws_app(), "/ws-consent"))
