"""`dashboard(db_path, ...)`: the ASGI app a site mounts to show its analytics live.

    from starlette.routing import Mount
    from analytics.dashboard import dashboard

    routes = [Mount("/analytics", app=dashboard("var/analytics.duckdb", basic=("ana", password)))]

Construction checks the configuration (ValueError with a clear message); at least one way
to authenticate must be configured, and a token or Basic password is at least 16 characters
long (nothing inside slows guessing). The app reads the warehouse read-only through a private
in-memory copy (see `snapshot`), so it never holds the file the rollup writes.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics.dashboard import api, pages
from analytics.dashboard.auth import Authentication, Authorize
from analytics.dashboard.context import Context
from analytics.dashboard.snapshot import SnapshotStore
from analytics.timezones import validate_timezone

MIN_TOKEN_LENGTH = 16
# A Basic password is guessed the same way as a token, as fast as the server answers (hundreds
# a second from one client): nothing inside the dashboard counts failures, so length is the
# defence, and it gets the token's floor. Counted as composed (NFC) characters, the form that
# is compared (`auth.nfc`): "é" typed as e + U+0301 is one.
MIN_PASSWORD_LENGTH = MIN_TOKEN_LENGTH

# Sent with every answer, refusals included: the data is private and must not be cached by
# a proxy, framed by another site, sniffed into another type, or leak the URL onwards.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Pure ASGI: adds SECURITY_HEADERS that the response did not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


class RoutingErrors:
    """Pure ASGI: answers the router's own refusals (405) inside the dashboard.

    Mounted in a Starlette app (`scope["app"]` set), Starlette's routes raise HTTPException
    instead of answering, and the host app answered it outside SecurityHeaders: no `no-store`,
    no `DENY`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except HTTPException as exc:  # raised by routing, before any response started
            response = PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
            await response(scope, receive, send)


class SlashRedirect:
    """Pure ASGI, the router's fallback: `/referrer/` redirects to `/referrer`, else 404.

    Starlette's own slash redirect writes an absolute URL from the Host header, so a request
    sent with a forged Host (through a proxy that passes it on, or to poison a cache) got a
    Location on that host. This one is a path: the browser stays on the host it asked.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            stripped = "/" + path.strip("/")  # one leading slash: never `//host`
            if stripped != path and any(
                route.matches({**scope, "path": stripped})[0] is not Match.NONE
                for route in self.routes
            ):
                query = scope.get("query_string", b"").decode("latin-1")
                location = stripped + (f"?{query}" if query else "")
                await RedirectResponse(location, status_code=307)(scope, receive, send)
                return
        await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


def _check_config(
    token: str | None,
    basic: tuple[str, str] | None,
    authorize: Authorize | None,
    min_visitors: int | None,
) -> None:
    if token is None and basic is None and authorize is None:
        raise ValueError(
            "dashboard needs authentication: pass token=, basic=(user, password) or "
            "authorize=callable; it never serves analytics to anyone who asks"
        )
    if token is not None:
        _check_text(token, "token")
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"token must be at least {MIN_TOKEN_LENGTH} characters long")
        # Either would be a token no request can carry: a 401 for the right token, no hint why.
        if token != token.strip():
            raise ValueError(
                "token must not start or end with whitespace (header values are trimmed)"
            )
        if not (token.isascii() and token.isprintable()):
            raise ValueError(
                "token must be printable ASCII: clients send other characters in different "
                "encodings (curl UTF-8, Python Latin-1, browsers not at all)"
            )
    if basic is not None:
        if not isinstance(basic, tuple | list) or len(basic) != 2:
            raise ValueError("basic must be a (user, password) pair")
        user = _check_text(basic[0], "basic user")
        if ":" in user:
            raise ValueError("basic user must not contain ':' (RFC 7617)")
        password = _check_text(basic[1], "basic password")
        if len(unicodedata.normalize("NFC", password)) < MIN_PASSWORD_LENGTH:
            raise ValueError(
                f"basic password must be at least {MIN_PASSWORD_LENGTH} characters long, as a "
                "token must: nothing here slows guessing it (rate-limit the mount at the proxy)"
            )
    if authorize is not None and not callable(authorize):
        raise ValueError("authorize must be a callable taking the request and returning a bool")
    if min_visitors is not None and (
        isinstance(min_visitors, bool) or not isinstance(min_visitors, int) or min_visitors < 1
    ):
        raise ValueError(f"min_visitors must be a whole number of at least 1, not {min_visitors!r}")


def dashboard(
    db_path: str | os.PathLike[str],
    *,
    token: str | None = None,
    basic: tuple[str, str] | None = None,
    authorize: Authorize | None = None,
    min_visitors: int | None = None,
    title: str = "cookiewall analytics",
    timezone: str | None = None,
) -> ASGIApp:
    """The analytics dashboard and its JSON API as one pure ASGI app (mount it anywhere).

    `token`: a bearer token for `Authorization: Bearer …` (scripts); `basic`: a (user,
    password) pair for HTTP Basic (browsers); both secrets at least 16 characters long (nothing
    here slows guessing: rate-limit the mount at the proxy); `authorize`: `f(request) -> bool`
    or an async one, the site's own login. At least one is required. `min_visitors`: suppress
    every number standing for fewer visitors. `timezone`: the zone whose "today" ends the
    default range (default: the warehouse's own). The database file need not exist yet (503
    until it does).
    """
    _check_config(token, basic, authorize, min_visitors)
    _check_text(title, "title")
    if timezone is not None:
        # zoneinfo's own answer to a number is a TypeError naming neither option nor remedy.
        if not isinstance(timezone, str):
            raise ValueError(
                f"timezone must be an IANA time zone name such as 'Europe/Berlin', not {timezone!r}"
            )
        validate_timezone(timezone)
    if not isinstance(db_path, str | os.PathLike):
        raise ValueError(f"db_path must be a file path (a str or a Path), not {db_path!r}")
    path = Path(db_path)
    if path.is_dir():
        raise ValueError(f"db_path {str(path)!r} is a folder, not a DuckDB file")
    ctx = Context(
        store=SnapshotStore(path),
        title=title,
        min_visitors=min_visitors,
        timezone=timezone,
    )
    routes = [*pages.routes(ctx), *api.routes(ctx)]
    router = Router(routes=routes, redirect_slashes=False, default=SlashRedirect(routes))
    realm = "".join(c for c in title if c.isprintable() and c not in '"\\')[:64] or "analytics"
    return SecurityHeaders(
        Authentication(
            RoutingErrors(router),
            token=token,
            basic=(basic[0], basic[1]) if basic is not None else None,
            authorize=authorize,
            realm=realm,
        )
    )
