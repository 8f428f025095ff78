"""Authentication in front of every dashboard route: nothing is served to a stranger.

Built in: a bearer token (`Authorization: Bearer <token>`) and HTTP Basic credentials from
configuration; or the site's own `authorize(request) -> bool` (sync or async) to reuse its
login. Any one configured method that accepts the request lets it through.

Secrets are compared with `hmac.compare_digest` over SHA-256 digests, so the comparison
takes the same time whatever the input's length and contents, and the user name and password
are both compared even when the first one is wrong. A refusal is 401 with a challenge and a
body that says nothing about why (a custom `authorize` alone gets 403: there is no HTTP
challenge for a site's own login).

References: RFC 7617 (Basic), RFC 6750 (Bearer), RFC 9110 §11.6.1 (WWW-Authenticate).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import logging
import traceback
import unicodedata
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("analytics.dashboard")

Authorize = Callable[[Request], bool | Awaitable[bool]]
MAX_HEADER = 4096  # longer Authorization headers are refused unread


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def _credential(header: bytes, scheme: bytes) -> bytes | None:
    """The credential after `<scheme> ` (scheme case-insensitive), or None."""
    name, _, value = header.strip().partition(b" ")
    if name.lower() != scheme or not value.strip():
        return None
    return value.strip()


def check_bearer(header: bytes, expected: bytes) -> bool:
    """True if the header carries the token whose SHA-256 digest is `expected`."""
    token = _credential(header, b"bearer")
    return hmac.compare_digest(_digest(token or b""), expected) and token is not None


def nfc(text: str) -> bytes:
    """`text` in Unicode Normalization Form C, as UTF-8: the form RFC 7617 §2.1 asks clients
    to send Basic credentials in when the challenge says charset="UTF-8". Both the configured
    and the received credentials are composed, so an "é" typed as e + U+0301 still matches."""
    return unicodedata.normalize("NFC", text).encode()


def check_basic(header: bytes, user: bytes, password: bytes) -> bool:
    """True if the header carries the user and password whose digests (of their `nfc`
    forms) are given."""
    encoded = _credential(header, b"basic")
    given_user = given_password = b""
    well_formed = False
    if encoded is not None:
        try:
            decoded = nfc(base64.b64decode(encoded, validate=True).decode("utf-8"))
        except (binascii.Error, ValueError):
            decoded = b""
        else:
            well_formed = b":" in decoded
        given_user, _, given_password = decoded.partition(b":")
    # Both comparisons always run (no short-circuit), so timing does not tell which failed.
    user_ok = hmac.compare_digest(_digest(given_user), user)
    password_ok = hmac.compare_digest(_digest(given_password), password)
    return well_formed & user_ok & password_ok


def _raised_at(error: BaseException) -> str:
    """`file:line in function` where `error` was raised: enough to find the fault, without
    the message or traceback text, which may quote the request's cookie or credentials
    (itsdangerous's BadSignature quotes the signature it refused)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


class Authentication:
    """Pure ASGI gate: lets an HTTP request through only if some configured method accepts it.

    Non-HTTP scopes: lifespan passes through (the inner router has no state to start);
    websocket connections are closed, the dashboard has none.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        basic: tuple[str, str] | None,
        authorize: Authorize | None,
        realm: str,
    ) -> None:
        self.app = app
        self.token_digest = _digest(token.encode()) if token is not None else None
        self.basic_digests = (_digest(nfc(basic[0])), _digest(nfc(basic[1]))) if basic else None
        self.authorize = authorize
        challenges = []
        if basic is not None:
            challenges.append(f'Basic realm="{realm}", charset="UTF-8"')
        if token is not None:
            challenges.append(f'Bearer realm="{realm}"')
        self.challenge = ", ".join(challenges).encode("latin-1", "replace")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if await self._allowed(scope, receive):
            await self.app(scope, receive, send)
        else:
            await self._refuse(send)

    async def _allowed(self, scope: Scope, receive: Receive) -> bool:
        header = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value
                break
        if len(header) > MAX_HEADER:
            header = b""
        if self.token_digest is not None and check_bearer(header, self.token_digest):
            return True
        if self.basic_digests is not None and check_basic(header, *self.basic_digests):
            return True
        if self.authorize is not None:
            try:
                verdict = self.authorize(Request(scope, receive))
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except Exception as error:
                # Fail closed: a broken login check must never open the dashboard.
                logger.error(
                    "dashboard authorize() raised %s at %s; request refused",
                    type(error).__name__,
                    _raised_at(error),
                )
                return False
            return verdict is True
        return False

    async def _refuse(self, send: Send) -> None:
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"cache-control", b"no-store"),
        ]
        if self.challenge:
            status, body = 401, b"Authentication required.\n"
            headers.append((b"www-authenticate", self.challenge))
        else:
            status, body = 403, b"Forbidden.\n"
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
