"""Every answer of the consent endpoints carries `X-Content-Type-Options: nosniff`.

Without it a browser may sniff a JSON reply (`GET /consent`, an error, the declaration) as
another type: loaded by `<script src>` or `<link rel=stylesheet>` on an attacker's page, or
opened as a document when a value in it looks like markup. With `nosniff` it is refused for
a script or style destination whatever it holds (Fetch, "should response to request be
blocked due to nosniff"). The static files and consent-mode.js had it; the rest did not.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from cookiewall import ConsentMiddleware
from tests.apps.full_stack_app import SECRETS, make_policy

BASE = "http://shop.example"
SAME_ORIGIN = {"origin": BASE}
CROSS_SITE = {"origin": "https://evil.example"}

# (method, path, request fields, JSON body or None, status expected)
ANSWERS = [
    ("GET", "/consent", {}, None, 200),
    ("HEAD", "/consent", {}, None, 200),
    ("POST", "/consent", SAME_ORIGIN, {"action": "accept_all"}, 200),
    ("POST", "/consent", SAME_ORIGIN, {"action": "dance"}, 400),
    ("POST", "/consent", CROSS_SITE, {"action": "accept_all"}, 403),
    ("DELETE", "/consent", SAME_ORIGIN, None, 200),
    ("PUT", "/consent", SAME_ORIGIN, None, 405),
    ("GET", "/consent/cookies", {}, None, 200),
    ("GET", "/consent/cookies?format=html", {}, None, 200),
    ("GET", "/consent/cookies?format=xml", {}, None, 400),
    ("POST", "/consent/cookies", SAME_ORIGIN, None, 405),
    ("GET", "/consent/banner", {}, None, 200),
    ("GET", "/consent/static/banner.css", {}, None, 200),
    ("GET", "/consent/static/banner.js", {}, None, 200),
    ("GET", "/.well-known/gpc.json", {}, None, 200),
]


def _answer(method: str, path: str, fields: dict[str, str], body: object) -> httpx.Response:
    gate = ConsentMiddleware(Starlette(), policy=make_policy(), secret_key=SECRETS)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.request(method, path, headers=fields, json=body)

    return asyncio.run(go())


@pytest.mark.parametrize(("method", "path", "fields", "body", "status"), ANSWERS, ids=str)
def test_every_endpoint_answer_forbids_sniffing(
    method: str, path: str, fields: dict[str, str], body: object, status: int
) -> None:
    answer = _answer(method, path, fields, body)
    assert answer.status_code == status
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]


def test_a_json_answer_says_what_it_is() -> None:
    answer = _answer("GET", "/consent", {}, None)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_apps_own_pages_are_left_as_they_are() -> None:
    """Only the gate's own answers: the app's pages keep whatever the app sends."""
    answer = _answer("GET", "/some/page", {}, None)
    assert answer.status_code == 404
    assert "x-content-type-options" not in answer.headers
