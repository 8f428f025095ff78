"""Any ASGI app may be wrapped under the user's `mypy --strict`: an app whose `__call__`
takes a TypedDict scope (a2wsgi's WSGIMiddleware, as the README's Flask recipe has it, and
Litestar) was rejected by `TrafficMiddleware` and `ConsentMiddleware` (a callable's
parameters are contravariant: one typed for a narrower scope is no callable taking any
MutableMapping). What is no ASGI app at all is still flagged, and the middlewares stay
assignable where Starlette wants an ASGIApp."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("a2wsgi", reason="pip install a2wsgi (the dev extra has it)")

ROOT = Path(__file__).resolve().parents[1]

# Lines ending in `# error` must be flagged, and only those.
PROGRAM = """\
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, TypedDict

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi_typing import Environ, StartResponse
from starlette.applications import Starlette
from starlette.routing import Mount

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, Policy


def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<p>hi</p>"]


class HTTPScope(TypedDict):  # as Litestar types its scopes
    type: Literal["http"]
    path: str


class TypedScopeApp:
    async def __call__(
        self,
        scope: HTTPScope,
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        return None


def not_async(scope: Any, receive: Any, send: Any) -> None:
    return None


async def two_parameters(scope: Any, receive: Any) -> None:
    return None


policy = Policy(version="v1", categories=[Category("necessary", required=True, description="n")])
recorder = Recorder("var/spool", "example.com")
KEYS = ["k" * 32]

flask_like = TrafficMiddleware(WSGIMiddleware(wsgi_app), recorder=recorder)
litestar_like = TrafficMiddleware(TypedScopeApp(), recorder=recorder)
gated_flask = ConsentMiddleware(WSGIMiddleware(wsgi_app), policy=policy, secret_key=KEYS)
gated_litestar = ConsentMiddleware(TypedScopeApp(), policy=policy, secret_key=KEYS)
stack = ConsentMiddleware(flask_like, policy=policy, secret_key=KEYS)
site = Starlette(routes=[Mount("/shop", app=stack), Mount("/ls", app=litestar_like)])

TrafficMiddleware(not_async, recorder=recorder)  # error
TrafficMiddleware(two_parameters, recorder=recorder)  # error
TrafficMiddleware("app", recorder=recorder)  # error
ConsentMiddleware(not_async, policy=policy, secret_key=KEYS)  # error
ConsentMiddleware(two_parameters, policy=policy, secret_key=KEYS)  # error
"""


def test_any_asgi_app_is_accepted_and_no_other_thing(tmp_path: Path) -> None:
    program = tmp_path / "wrapped_apps.py"
    program.write_text(PROGRAM)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            # As for installed packages: only what the program itself does is checked.
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            "--show-error-codes",
            str(program),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    expected = {
        number
        for number, line in enumerate(PROGRAM.splitlines(), start=1)
        if line.endswith("# error")
    }
    flagged = {
        int(found)
        for found in re.findall(rf"^{re.escape(str(program))}:(\d+): error", result.stdout, re.M)
    }
    assert flagged == expected, result.stdout + result.stderr
