"""A site on several app servers: each a real uvicorn process running the same gate, with
its own `secret_key` list, policy version, clock and receipts log (set through the
environment), and one visitor (one httpx cookie jar) whom a load balancer without sticky
sessions sends to any of them."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware, ReceiptLog
from tests.support import uvicorn_server
from tests.test_cookiewall_support import consent_cookie, make_policy, receipt_of

# Keys of 16+ characters; "old" signs before a rotation, "new" after it.
OLD_KEY = "old-key-0123456789abcdef"
NEW_KEY = "new-key-fedcba9876543210"
KEYS = {"old": OLD_KEY, "new": NEW_KEY}
VERSION = "2026-11-28"
MAX_AGE_SECONDS = 180 * 86400  # the test policy's consent_max_age (the default)
_MAX_AGE = re.compile(r"max-age=(\d+)", re.IGNORECASE)


def make_app() -> ConsentMiddleware:
    """`uvicorn --factory tests.several_servers_support:make_app`, configured by environment:
    SERVER_KEYS ("new,old": names of KEYS, newest first), SERVER_CLOCK_OFFSET (seconds this
    host's clock is ahead; negative: behind), SERVER_POLICY_VERSION, SERVER_RECEIPTS (path),
    SERVER_RECEIPTS_MAX_BYTES (its rotation size; 50 backups)."""
    offset = float(os.environ.get("SERVER_CLOCK_OFFSET", "0"))
    if offset:
        # The whole process runs on the skewed clock, as on a host whose clock is wrong: the
        # gate, its endpoints, the receipts log and the server's Date header alike.
        real_time = time.time
        time.time = lambda: real_time() + offset
    keys = [KEYS[name] for name in os.environ["SERVER_KEYS"].split(",")]
    receipts = os.environ.get("SERVER_RECEIPTS")
    max_bytes = int(os.environ.get("SERVER_RECEIPTS_MAX_BYTES", str(10 * 2**20)))
    inner = Starlette(routes=[Route("/", page), Route("/state", state)])
    return ConsentMiddleware(
        inner,
        policy=make_policy(version=os.environ.get("SERVER_POLICY_VERSION", VERSION)),
        secret_key=keys,
        inject_banner=True,
        receipts=ReceiptLog(receipts, max_bytes=max_bytes, backups=50) if receipts else None,
    )


async def page(request: Request) -> Response:
    return HTMLResponse("<html><head><title>shop</title></head><body><p>Welcome</p></body></html>")


async def state(request: Request) -> Response:
    consent = request.state.consent
    return JSONResponse(
        {
            "decided": consent.decided,
            "granted": sorted(consent.granted),
            "receipt_id": consent.receipt_id,
            "decided_at": consent.decided_at,
        }
    )


@dataclass(frozen=True)
class Server:
    url: str
    keys: str = "old"
    version: str = VERSION
    clock_offset: float = 0.0


@contextmanager
def fleet(*servers: dict[str, Any]) -> Iterator[list[Server]]:
    """Start one uvicorn process per `servers` entry (keys, version, clock_offset, receipts);
    yield them, in order, once all listen."""
    with ExitStack() as stack:
        started = []
        for options in servers:
            env = {"SERVER_KEYS": options.get("keys", "old")}
            if "clock_offset" in options:
                env["SERVER_CLOCK_OFFSET"] = str(options["clock_offset"])
            if "version" in options:
                env["SERVER_POLICY_VERSION"] = options["version"]
            if "receipts" in options:
                env["SERVER_RECEIPTS"] = str(options["receipts"])
            if "receipts_max_bytes" in options:
                env["SERVER_RECEIPTS_MAX_BYTES"] = str(options["receipts_max_bytes"])
            url, _ = stack.enter_context(
                uvicorn_server("tests.several_servers_support:make_app", env=env, factory=True)
            )
            started.append(
                Server(
                    url,
                    keys=env["SERVER_KEYS"],
                    version=options.get("version", VERSION),
                    clock_offset=float(options.get("clock_offset", 0.0)),
                )
            )
        yield started


@dataclass
class Visit:
    """What one page request showed: whether the visitor counted as decided (no banner),
    and whether the response set or cleared the consent cookie."""

    server: Server
    decided: bool
    consent_set_cookies: list[str]

    @property
    def resigned(self) -> bool:
        return any(not _clears(header) for header in self.consent_set_cookies)

    @property
    def cleared(self) -> bool:
        return any(_clears(header) for header in self.consent_set_cookies)


class Visitor:
    """One browser (one cookie jar) behind a load balancer without sticky sessions."""

    def __init__(self) -> None:
        self.client = httpx.Client(timeout=30.0)

    def close(self) -> None:
        self.client.close()

    def decide(self, server: Server, action: str = "accept_all", **extra: Any) -> str:
        reply = self.client.post(
            f"{server.url}/consent",
            json={"action": action, **extra},
            headers={"origin": server.url},
        )
        assert reply.status_code == 200, reply.text
        # The id of the receipt just written, as the cookie set carries it.
        return receipt_of(consent_cookie(reply))

    def withdraw(self, server: Server) -> None:
        reply = self.client.delete(f"{server.url}/consent", headers={"origin": server.url})
        assert reply.status_code == 200, reply.text

    def visit(self, server: Server) -> Visit:
        reply = self.client.get(f"{server.url}/")
        assert reply.status_code == 200
        consent_cookies = [
            header
            for header in reply.headers.get_list("set-cookie")
            if header.startswith("cookiewall=")
        ]
        banner = "data-cookiewall" in reply.text
        return Visit(server, not banner, consent_cookies)

    def state(self, server: Server) -> dict[str, Any]:
        reply = self.client.get(f"{server.url}/state")
        assert reply.status_code == 200
        data: dict[str, Any] = reply.json()
        return data

    def consent_cookies(self) -> list[str]:
        return [
            cookie.value or "" for cookie in self.client.cookies.jar if cookie.name == "cookiewall"
        ]


def visitor_fixture() -> Callable[[], Iterator[Visitor]]:
    """A module's `visitor` fixture (`visitor = visitor_fixture()`): one cookie jar per test,
    closed after it."""

    @pytest.fixture
    def visitor() -> Iterator[Visitor]:
        visitor = Visitor()
        yield visitor
        visitor.close()

    return visitor


def max_age_of(header: str) -> int:
    found = _MAX_AGE.search(header)
    assert found is not None, header
    return int(found.group(1))


def _clears(header: str) -> bool:
    found = _MAX_AGE.search(header)
    return found is not None and int(found.group(1)) == 0


def read_receipts(paths: Sequence[Path]) -> list[dict[str, Any]]:
    receipts: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            receipts.extend(json.loads(line) for line in path.read_text().splitlines())
    return receipts


def make_rollout_app() -> ConsentMiddleware:
    """`uvicorn --factory tests.several_servers_support:make_rollout_app`: a server of a policy
    rollout. SERVER_POLICY_VERSION, SERVER_KEYS and SERVER_RECEIPTS as for `make_app`;
    SERVER_ACCEPTS_VERSIONS ("v2,v3", or unset) lists the other versions it accepts."""
    keys = [KEYS[name] for name in os.environ["SERVER_KEYS"].split(",")]
    receipts = os.environ.get("SERVER_RECEIPTS")
    accepted = [v for v in os.environ.get("SERVER_ACCEPTS_VERSIONS", "").split(",") if v]
    inner = Starlette(routes=[Route("/", page), Route("/state", state)])
    policy = make_policy(version=os.environ["SERVER_POLICY_VERSION"], accepts_versions=accepted)
    return ConsentMiddleware(
        inner,
        policy=policy,
        secret_key=keys,
        inject_banner=True,
        receipts=ReceiptLog(receipts) if receipts else None,
    )


@contextmanager
def rollout_fleet(*servers: dict[str, Any]) -> Iterator[list[Server]]:
    """Start one `make_rollout_app` process per `servers` entry (version, accepts_versions: a
    list, keys, receipts); yield them, in order, once all listen."""
    with ExitStack() as stack:
        started = []
        for options in servers:
            env = {
                "SERVER_KEYS": options.get("keys", "old"),
                "SERVER_POLICY_VERSION": options.get("version", VERSION),
                "SERVER_ACCEPTS_VERSIONS": ",".join(options.get("accepts_versions", ())),
            }
            if "receipts" in options:
                env["SERVER_RECEIPTS"] = str(options["receipts"])
            url, _ = stack.enter_context(
                uvicorn_server(
                    "tests.several_servers_support:make_rollout_app", env=env, factory=True
                )
            )
            started.append(
                Server(url, keys=env["SERVER_KEYS"], version=env["SERVER_POLICY_VERSION"])
            )
        yield started
