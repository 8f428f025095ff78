"""The dashboard under a sub-path: a Starlette `Mount`, FastAPI's `app.mount`, and a bare app
behind a proxy that strips the prefix (`uvicorn --root-path`). Every address it writes — links,
form actions, the stylesheet, redirects, and the URLs its JSON errors name — stays under the
mount, since an address outside it is the host site's (a 404 there, or another page)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from analytics.dashboard import dashboard
from tests.dashboard_support import PASSWORD, USER, build_warehouse, get
from tests.support import uvicorn_server

PREFIX = "/analytics"
APRIL = {"from": "2026-04-01", "to": "2026-04-30"}
ADDRESS = re.compile(r'(?:href|action|src)="([^"]+)"')


def starlette_site(db: str | os.PathLike[str]) -> ASGIApp:
    return Starlette(routes=[Mount(PREFIX, app=dashboard(db, basic=(USER, PASSWORD)))])


def fastapi_site(db: str | os.PathLike[str]) -> ASGIApp:
    site = FastAPI()
    site.mount(PREFIX, dashboard(db, basic=(USER, PASSWORD)))
    return site


# uvicorn factories (`--factory`): the warehouse comes from the environment.
def create_starlette_site() -> ASGIApp:
    return starlette_site(os.environ["MOUNT_TEST_DB"])


def create_fastapi_site() -> ASGIApp:
    return fastapi_site(os.environ["MOUNT_TEST_DB"])


def create_bare_dashboard() -> ASGIApp:
    return dashboard(os.environ["MOUNT_TEST_DB"], basic=(USER, PASSWORD))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-under-a-mount"), per_day=10)


# What each check asks, below the mount: (path, query).
PAGES = [
    ("/", APRIL),
    ("/", {**APRIL, "referrer": "google.com"}),  # the overview's notice links the referrer
    ("/referrer", {**APRIL, "referrer": "google.com"}),
    ("/", {"grain": "hour"}),  # a 400 page links back to the overview
    ("/referrer", {}),  # a 400: no referrer
]
REFUSALS = ["referrers", "sources", "campaigns", "pages"]


def assert_pages_stay_under(fetch: Any, prefix: str) -> None:
    """`fetch(path, query) -> httpx.Response`, for paths as the browser asks them."""
    for path, query in PAGES:
        response = fetch(prefix + path, query)
        assert response.status_code in (200, 400), (path, query, response.status_code)
        addresses = ADDRESS.findall(response.text)
        assert f'href="{prefix}/static/dashboard.css"' in response.text
        assert addresses
        outside = [a for a in addresses if not a.startswith(f"{prefix}/")]
        assert not outside, (path, query, outside)


def assert_redirects_stay_under(fetch: Any, prefix: str) -> None:
    for asked, expected in [
        ("/referrer/", "/referrer?referrer=a.example"),
        ("/api/sites/", "/api/sites?referrer=a.example"),
    ]:
        response = fetch(prefix + asked, {"referrer": "a.example"})
        assert response.status_code == 307
        assert response.headers["location"] == prefix + expected


def assert_api_errors_name_addresses_under(fetch: Any, prefix: str) -> None:
    for kind in REFUSALS:
        response = fetch(f"{prefix}/api/{kind}", {**APRIL, "referrer": "google.com"})
        assert response.status_code == 400
        error = response.json()["error"]
        named = re.findall(r"/[\w/-]*api/[\w-]+", error)
        assert named, error
        assert all(address.startswith(f"{prefix}/api/") for address in named), error
        # Each address it names answers that referrer's numbers.
        for path, referrer in re.findall(r"(/\S*api/[\w-]+)\?referrer=([\w.-]+)", error):
            answer = fetch(path, {**APRIL, "referrer": referrer})
            assert answer.status_code == 200, (path, answer.text[:200])
            assert answer.json()["referrer"] == "google.com"


def asgi_fetch(app: ASGIApp) -> Any:
    def fetch(path: str, query: dict[str, str]) -> httpx.Response:
        return get(app, path, query)

    return fetch


@pytest.mark.parametrize("site", [starlette_site, fastapi_site], ids=["starlette", "fastapi"])
@pytest.mark.parametrize(
    "check",
    [assert_pages_stay_under, assert_redirects_stay_under, assert_api_errors_name_addresses_under],
)
def test_every_address_stays_under_the_mount(db: Path, site: Any, check: Any) -> None:
    check(asgi_fetch(site(db)), PREFIX)


def test_unmounted_the_api_errors_name_addresses_from_the_root(db: Path) -> None:
    assert_api_errors_name_addresses_under(asgi_fetch(dashboard(db, basic=(USER, PASSWORD))), "")


# -- real uvicorn -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(db: Path) -> Iterator[dict[str, tuple[str, bool]]]:
    """name -> (base URL, whether a prefix-stripping proxy stands in front), one uvicorn each.

    Behind such a proxy the server is asked without the prefix (`--root-path` tells it which);
    the pages must still name it, since the browser sees the proxy's addresses."""
    env = {"MOUNT_TEST_DB": str(db)}
    module = "tests.test_dashboard_under_a_mount"
    with (
        uvicorn_server(f"{module}:create_starlette_site", env=env, factory=True) as (star, _),
        uvicorn_server(f"{module}:create_fastapi_site", env=env, factory=True) as (fast, _),
        uvicorn_server(
            f"{module}:create_bare_dashboard",
            env=env,
            factory=True,
            extra_args=("--root-path", PREFIX),
        ) as (proxied, _),
    ):
        yield {"starlette": (star, False), "fastapi": (fast, False), "root-path": (proxied, True)}


@pytest.mark.parametrize("name", ["starlette", "fastapi", "root-path"])
@pytest.mark.parametrize(
    "check",
    [assert_pages_stay_under, assert_redirects_stay_under, assert_api_errors_name_addresses_under],
)
def test_under_uvicorn_every_address_stays_under_the_mount(
    servers: dict[str, tuple[str, bool]], name: str, check: Any
) -> None:
    base, proxied = servers[name]
    with httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=20) as http:

        def fetch(path: str, query: dict[str, str]) -> httpx.Response:
            if proxied:  # the proxy in front strips the prefix of the public address
                assert path.startswith(PREFIX), path
                path = path[len(PREFIX) :] or "/"
            return http.get(path, params=query)

        check(fetch, PREFIX)
