"""A new policy version that shortens `consent_max_age_days` (180 to 30), rolled out one
server at a time: real uvicorn processes, one visitor's cookie jar, no sticky sessions.

A visitor decided on an old server 60 days ago: valid there (180 days), too old for the new
version. The new server asks again, as it should, but must not clear the cookie as expired:
cleared, the decision was lost on the old servers too, and the README's rollout promises
that no decision is lost at any point.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette
from starlette.routing import Route

from cookiewall import ConsentMiddleware
from cookiewall.consent import SALT
from tests.several_servers_support import (
    OLD_KEY,
    Server,
    Visitor,
    page,
    state,
    visitor_fixture,
)
from tests.support import uvicorn_server
from tests.test_cookiewall_support import make_policy

OLD, NEW = "2026-11-28", "2026-12-24"
DAY = 86_400


def make_server() -> ConsentMiddleware:
    """`uvicorn --factory`: SERVER_POLICY_VERSION and SERVER_CONSENT_MAX_AGE_DAYS."""
    days = int(os.environ["SERVER_CONSENT_MAX_AGE_DAYS"])
    policy = make_policy(
        version=os.environ["SERVER_POLICY_VERSION"], consent_max_age=timedelta(days=days)
    )
    inner = Starlette(routes=[Route("/", page), Route("/state", state)])
    return ConsentMiddleware(inner, policy=policy, secret_key=OLD_KEY, inject_banner=True)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    with ExitStack() as stack:
        started = {}
        for version, days in ((OLD, 180), (NEW, 30)):
            env = {"SERVER_POLICY_VERSION": version, "SERVER_CONSENT_MAX_AGE_DAYS": str(days)}
            url, _ = stack.enter_context(
                uvicorn_server(f"{__name__}:make_server", env=env, factory=True)
            )
            started[version] = Server(url, version=version)
        yield started


visitor = visitor_fixture()


def _decided_on_an_old_server(visitor: Visitor, server: Server, days_ago: int) -> None:
    """The cookie an old server set `days_ago` (as it signs it: no waiting 60 days)."""
    payload = {"v": OLD, "g": ["analytics"], "t": int(time.time()) - days_ago * DAY, "r": "old"}
    value = URLSafeSerializer(OLD_KEY, salt=SALT).dumps(payload)
    host = urlsplit(server.url).hostname
    assert host is not None
    visitor.client.cookies.set("cookiewall", value, domain=host, path="/")


def test_a_decision_too_old_for_the_new_version_is_kept_for_the_old_servers(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    _decided_on_an_old_server(visitor, servers[OLD], days_ago=60)
    assert visitor.visit(servers[OLD]).decided
    (cookie,) = visitor.consent_cookies()
    there = visitor.visit(servers[NEW])
    assert not there.decided  # a new version asks again
    assert not there.consent_set_cookies  # and does not clear the old servers' decision
    for _ in range(3):
        assert visitor.visit(servers[OLD]).decided
        assert not visitor.visit(servers[NEW]).decided
    assert visitor.state(servers[OLD])["receipt_id"] == "old"
    assert visitor.consent_cookies() == [cookie]


def test_a_decision_older_than_any_lifetime_is_cleared(
    servers: dict[str, Server], visitor: Visitor
) -> None:
    """Control: 400 days is past the longest lifetime a policy may have (395 days)."""
    _decided_on_an_old_server(visitor, servers[OLD], days_ago=400)
    assert visitor.visit(servers[NEW]).cleared
    assert not visitor.consent_cookies()
