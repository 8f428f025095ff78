"""A static site (Starlette's StaticFiles, which sends ETag and Last-Modified and answers
conditional requests) behind the consent gate with the banner injected. The folder comes from
STATIC_SITE_DIR; the policy version is read from its `policy-version` file on each request,
so a test can publish a new version without changing the URL. For the browser's
revalidation tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from cookiewall import Category, ConsentMiddleware, Policy

FOLDER = Path(os.environ["STATIC_SITE_DIR"])
SITE = Starlette(routes=[Mount("/", StaticFiles(directory=FOLDER / "public", html=True))])
_gates: dict[str, ConsentMiddleware] = {}


def _gate(version: str) -> ConsentMiddleware:
    if version not in _gates:
        policy = Policy(
            version=version,
            categories=[Category("necessary", required=True), Category("analytics")],
        )
        _gates[version] = ConsentMiddleware(
            SITE, policy=policy, secret_key="static-site-secret-key-0123456789", inject_banner=True
        )
    return _gates[version]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    version_file = FOLDER / "policy-version"
    version = version_file.read_text().strip() if version_file.exists() else "1"
    await _gate(version)(scope, receive, send)
