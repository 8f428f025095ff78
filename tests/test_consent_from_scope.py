"""`consent_from_scope`: the visitor's Consent for a view that is not Starlette's (Django's
`request.scope`, Flask's `request.environ` under a2wsgi), with a clear error where there is
none. The frameworks themselves run it under uvicorn in test_django_integration.py and
test_flask_integration.py; here, its inputs one by one, and asgiref's adapter."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from cookiewall import Category, ConsentMiddleware, Policy, consent_from_scope

POLICY = Policy(version="1", categories=[Category("necessary", required=True), Category("stats")])
SECRET = "consent-from-scope-key-0123456789"


def _served_scope() -> dict[str, Any]:
    """The scope the gate hands the app for an undecided visitor's GET /."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    asyncio.run(gate(scope, receive, send))
    return seen


def test_an_asgi_scope_the_gate_served_gives_its_consent() -> None:
    consent = consent_from_scope(_served_scope())
    assert consent.decided is False
    assert consent.allows("necessary")
    assert not consent.allows("stats")


def test_a_wsgi_environ_carrying_the_scope_gives_the_same_consent() -> None:
    scope = _served_scope()
    environ = {"wsgi.version": (1, 0), "REQUEST_METHOD": "GET", "asgi.scope": scope}
    assert consent_from_scope(environ) is scope["state"]["consent"]


@pytest.mark.parametrize(
    "scope",
    [
        {"type": "http"},  # no state: no gate
        {"type": "http", "state": {}},  # another middleware's state, no consent
        {"type": "http", "state": {"consent": "all"}},  # not a Consent
        {"type": "http", "state": None},
        {"type": "websocket", "state": {"other": 1}},  # websockets pass the gate untouched
    ],
)
def test_a_scope_without_the_gates_consent_is_a_runtime_error_naming_the_middleware(
    scope: dict[str, Any],
) -> None:
    with pytest.raises(RuntimeError, match=r"add cookiewall\.ConsentMiddleware"):
        consent_from_scope(scope)


def test_asgirefs_wsgi_environ_without_the_scope_names_a2wsgi() -> None:
    """asgiref's WsgiToAsgi builds an environ with no ASGI scope in it: the error says what
    to serve the app through instead of "no consent"."""
    wsgi_to_asgi = pytest.importorskip("asgiref.wsgi").WsgiToAsgi
    environs: list[dict[str, Any]] = []

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environs.append(environ)
        start_response("204 No Content", [])
        return [b""]

    gate = ConsentMiddleware(wsgi_to_asgi(wsgi_app), policy=POLICY, secret_key=SECRET)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": b"",
        "root_path": "",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(gate(scope, receive, send))
    assert sent[0]["status"] == 204
    (environ,) = environs
    with pytest.raises(RuntimeError, match="a2wsgi"):
        consent_from_scope(environ)
