"""Nothing is served without authentication: token, Basic, custom authorize, the refusals,
the constant-time comparison, and the configuration errors."""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.requests import Request

from analytics.dashboard import dashboard
from analytics.dashboard.auth import check_basic, check_bearer
from tests.dashboard_support import PASSWORD, TOKEN, USER, build_warehouse, get

PATHS = [
    "/",
    "/referrer?referrer=google.com",
    "/static/dashboard.css",
    "/api/sites",
    "/api/timeseries",
    "/api/referrers",
    "/api/sources",
    "/api/pages",
    "/api/campaigns",
    "/api/referrer-pages?referrer=google.com",
    "/api/timeseries?from=not-a-date",  # refused before it is even checked
    "/no/such/page",  # a stranger cannot even learn which paths exist
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-auth"), per_day=10)


def request(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return get(app, path, headers=headers, auth=None)


def basic_header(user: str | bytes, password: str | bytes) -> dict[str, str]:
    raw = (user if isinstance(user, bytes) else user.encode()) + b":"
    raw += password if isinstance(password, bytes) else password.encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


BEARER = {"Authorization": f"Bearer {TOKEN}"}
RIGHT_BASIC = basic_header(USER, PASSWORD)


def both(db: Path) -> Any:
    return dashboard(db, token=TOKEN, basic=(USER, PASSWORD))


@pytest.mark.parametrize("path", PATHS)
def test_every_path_is_refused_without_credentials(db: Path, path: str) -> None:
    response = request(both(db), path)
    assert response.status_code == 401
    assert response.text == "Authentication required.\n"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Basic realm="cookiewall analytics"')
    assert 'Bearer realm="cookiewall analytics"' in challenge
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token-wrong-token-wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Token {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        basic_header(USER, "wrong password"),
        basic_header("someone", PASSWORD),
        basic_header(USER, PASSWORD + " "),
        basic_header(USER.upper(), PASSWORD),
        basic_header(b"\xff\xfe", b"\xff"),
        basic_header("", ""),
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(USER.encode() + PASSWORD.encode()).decode()},
        {"Authorization": "Basic"},
        {"Authorization": "Bearer " + "a" * 10_000},
        {"X-Token": TOKEN},
        {"Cookie": f"token={TOKEN}"},
    ],
)
def test_wrong_credentials_are_401_and_reveal_nothing(db: Path, headers: dict[str, str]) -> None:
    response = request(both(db), "/api/sites", headers)
    assert response.status_code == 401
    assert response.text == "Authentication required.\n"
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        BEARER,
        {"Authorization": f"bearer {TOKEN}"},  # the scheme is case-insensitive (RFC 9110)
        {"Authorization": f"  Bearer {TOKEN}  "},
        RIGHT_BASIC,
        {"Authorization": RIGHT_BASIC["Authorization"].replace("Basic", "BASIC")},
    ],
)
def test_right_credentials_are_served(db: Path, headers: dict[str, str]) -> None:
    response = request(both(db), "/api/sites", headers)
    assert response.status_code == 200
    assert response.json()["sites"]


def test_password_with_a_colon_and_non_ascii(db: Path) -> None:
    app = dashboard(db, basic=("zoë", "pa:ss:wörd:and:more"))
    assert request(app, "/api/sites", basic_header("zoë", "pa:ss:wörd:and:more")).status_code == 200
    assert request(app, "/api/sites", basic_header("zoë", "pa")).status_code == 401


def test_token_only_challenges_with_bearer(db: Path) -> None:
    app = dashboard(db, token=TOKEN)
    refused = request(app, "/api/sites", RIGHT_BASIC)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="cookiewall analytics"'
    assert request(app, "/api/sites", BEARER).status_code == 200


def test_basic_only_refuses_the_token(db: Path) -> None:
    app = dashboard(db, basic=(USER, PASSWORD), title='My "shop"')
    refused = request(app, "/api/sites", BEARER)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="My shop", charset="UTF-8"'


def _sync_yes(request: Request) -> bool:
    return request.headers.get("x-staff") == "yes"


async def _async_yes(request: Request) -> bool:
    await asyncio.sleep(0)
    return request.cookies.get("session") == "staff"


def _raises(request: Request) -> bool:
    raise RuntimeError("the login service is down")


def _truthy_not_true(request: Request) -> Any:
    return "yes"  # not True: a sloppy callable must not open the dashboard


@pytest.mark.parametrize(
    ("authorize", "headers", "status"),
    [
        (_sync_yes, {"X-Staff": "yes"}, 200),
        (_sync_yes, {"X-Staff": "no"}, 403),
        (_sync_yes, {}, 403),
        (_async_yes, {"Cookie": "session=staff"}, 200),
        (_async_yes, {"Cookie": "session=visitor"}, 403),
        (_raises, {"X-Staff": "yes"}, 403),
        (_truthy_not_true, {}, 403),
    ],
)
def test_custom_authorize(
    db: Path, authorize: Callable[[Request], Any], headers: dict[str, str], status: int
) -> None:
    response = request(dashboard(db, authorize=authorize), "/api/sites", headers)
    assert response.status_code == status
    if status == 403:
        assert response.text == "Forbidden.\n"
        assert "www-authenticate" not in response.headers


def test_authorize_sees_the_request_under_the_mount(db: Path) -> None:
    seen: list[str] = []

    def record(request: Request) -> bool:
        seen.append(request.url.path)
        return True

    assert request(dashboard(db, authorize=record), "/api/sites").status_code == 200
    assert seen == ["/api/sites"]


def test_any_configured_method_is_enough(db: Path) -> None:
    app = dashboard(db, token=TOKEN, authorize=_sync_yes)
    assert request(app, "/api/sites", BEARER).status_code == 200
    assert request(app, "/api/sites", {"X-Staff": "yes"}).status_code == 200
    refused = request(app, "/api/sites")
    assert refused.status_code == 401  # a challenge exists (bearer), so 401 not 403


def test_secrets_are_compared_with_compare_digest(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    app = both(db)
    for headers in (BEARER, RIGHT_BASIC, basic_header("x", "y"), {"Authorization": "Bearer a"}):
        request(app, "/static/dashboard.css", headers)
    # Token, then user + password: both always compared, digests of equal length.
    assert len(calls) >= 6
    assert all(len(a) == len(b) == 32 for a, b in calls)


def test_wrong_user_still_compares_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    user, password = b"u" * 32, b"p" * 32
    assert not check_basic(basic_header("nobody", "x")["Authorization"].encode(), user, password)
    assert calls == [user, password]  # no short-circuit after the user mismatch
    assert not check_bearer(b"Basic abc", b"t" * 32)
    assert calls[-1] == b"t" * 32


def test_websocket_is_closed(db: Path) -> None:
    app = both(db)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/", "headers": [], "root_path": ""}
    asyncio.run(app(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs authentication"),
        ({"token": None, "basic": None, "authorize": None}, "needs authentication"),
        ({"token": ""}, "token must be a non-empty string"),
        ({"token": "short"}, "at least 16 characters"),
        ({"token": 1234567890123456789}, "token must be a non-empty string"),
        ({"token": "x" * 20 + "\n"}, "control characters"),
        ({"basic": ("user",)}, "(user, password) pair"),
        ({"basic": "user:password"}, "(user, password) pair"),
        ({"basic": ("", "password")}, "basic user must be a non-empty string"),
        ({"basic": ("user", "")}, "basic password must be a non-empty string"),
        ({"basic": ("us:er", "password")}, "must not contain ':'"),
        # Guessed as fast as the server answers (286/s from one client, h260 F2): a token's floor.
        ({"basic": ("user", "p" * 15)}, "basic password must be at least 16 characters"),
        ({"basic": ("user", "secret")}, "rate-limit the mount at the proxy"),
        # 15 characters as compared (NFC), though 30 code points as written
        ({"basic": ("user", "e\u0301" * 15)}, "basic password must be at least 16 characters"),
        ({"authorize": "yes"}, "authorize must be a callable"),
        ({"token": TOKEN, "min_visitors": 0}, "min_visitors must be a whole number"),
        ({"token": TOKEN, "min_visitors": True}, "min_visitors must be a whole number"),
        ({"token": TOKEN, "min_visitors": 2.5}, "min_visitors must be a whole number"),
        ({"token": TOKEN, "title": ""}, "title must be a non-empty string"),
        ({"token": TOKEN, "timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_configuration_is_a_value_error(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dashboard(tmp_path / "analytics.duckdb", **options)


@pytest.mark.parametrize("password", ["p" * 16, "\u00e9" * 16, "e\u0301" * 16])
def test_a_basic_password_of_16_characters_is_accepted(db: Path, password: str) -> None:
    app = dashboard(db, basic=(USER, password))
    assert request(app, "/api/sites", basic_header(USER, password)).status_code == 200


def test_db_path_that_is_a_folder_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a folder"):
        dashboard(tmp_path, token=TOKEN)


# -- Basic credentials in another Unicode normal form --------------------------------------------
# The challenge says charset="UTF-8", which per RFC 7617 §2.1 tells browsers to send the user
# and password in Normalization Form C. A password configured in NFD (as macOS file names and
# some keyboards produce "é") was compared byte for byte, so a standards-following browser
# typing the right password was refused with 401 forever.

NFC_USER, NFD_USER = "ren\u00e9e", "rene\u0301e"

NFC_PASSWORD = "caf\u00e9 \u00e0 la cr\u00e8me br\u00fbl\u00e9e"
NFD_PASSWORD = "cafe\u0301 a\u0300 la cre\u0300me bru\u0302le\u0301e"


@pytest.mark.parametrize(
    ("configured", "sent"),
    [
        ((NFD_USER, NFD_PASSWORD), (NFC_USER, NFC_PASSWORD)),
        ((NFC_USER, NFC_PASSWORD), (NFD_USER, NFD_PASSWORD)),
        ((NFC_USER, NFD_PASSWORD), (NFD_USER, NFC_PASSWORD)),
        ((NFC_USER, NFC_PASSWORD), (NFC_USER, NFC_PASSWORD)),
        (
            ("\u212bngstr\u00f6m", "pw-\u00c5-\u00f6-long-enough"),
            ("\u00c5ngstr\u00f6m", "pw-A\u030a-o\u0308-long-enough"),
        ),
    ],
)
def test_basic_credentials_match_in_any_normal_form(
    db: Path, configured: tuple[str, str], sent: tuple[str, str]
) -> None:
    app = dashboard(db, basic=configured)
    assert get(app, "/api/sites", auth=sent).status_code == 200


@pytest.mark.parametrize(
    "sent",
    [
        (NFC_USER, NFC_PASSWORD + "x"),
        ("renee", NFC_PASSWORD),
        (NFC_USER, "cafe a la creme brulee"),  # accents are not folded away, only composed
    ],
)
def test_a_different_password_in_nfc_is_still_refused(db: Path, sent: tuple[str, str]) -> None:
    app = dashboard(db, basic=(NFD_USER, NFD_PASSWORD))
    response = get(app, "/api/sites", auth=sent)
    assert response.status_code == 401
    assert response.text == "Authentication required.\n"


# -- what is logged when the site's own authorize() raises --------------------------------------
# The refusal was logged with logger.exception: the exception's message and traceback went to
# the log. A site checking its session cookie with itsdangerous gets BadSignature("Signature
# b'<the cookie's signature>' does not match"), so a stranger's forged cookie value, or a
# staff member's expired one, reached a log line (cookiewall's rule: no cookie value in logs).

SIGNED = URLSafeTimedSerializer("the site's secret").dumps({"staff": 1})

FORGED_SIGNATURE = "cookievaluesignaturethatmustnotbelogged"

FORGED = SIGNED.rsplit(".", 1)[0] + "." + FORGED_SIGNATURE


def _check_session(request: Request) -> bool:
    session = URLSafeTimedSerializer("the site's secret").loads(
        request.cookies.get("session", ""), max_age=-1
    )
    return bool(session["staff"])


def _bearer_in_message(request: Request) -> bool:
    raise ValueError(f"unknown credentials {request.headers['authorization']}")


@pytest.mark.parametrize(
    ("authorize", "headers", "secret", "raised_in"),
    [
        pytest.param(
            _check_session,
            {"Cookie": f"session={FORGED}"},
            "cookievaluesignaturethatmustnotbelogged",
            "itsdangerous",
            id="forged-session-cookie",
        ),
        pytest.param(
            _check_session,
            {"Cookie": f"session={SIGNED}"},
            SIGNED.rsplit(".", 1)[1],
            "itsdangerous",
            id="expired-session-cookie",
        ),
        pytest.param(
            _bearer_in_message,
            {"Authorization": "Bearer do-not-log-me-1234"},
            "do-not-log-me",
            "test_dashboard_auth.py",
            id="bearer-token-in-the-message",
        ),
    ],
)
def test_a_failing_authorize_is_logged_without_what_the_request_carried(
    db: Path,
    caplog: pytest.LogCaptureFixture,
    authorize: Any,
    headers: dict[str, str],
    secret: str,
    raised_in: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="analytics")
    response = get(dashboard(db, authorize=authorize), "/api/sites", headers=headers, auth=None)
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name.startswith("analytics.dashboard")]
    assert records
    logged = "\n".join(logging.Formatter().format(record) for record in records)
    assert secret not in logged
    assert "authorize() raised" in logged
    # What an operator needs to find the fault is still there: the type and where it was raised.
    assert re.search(r"(BadSignature|BadTimeSignature|SignatureExpired|ValueError)", logged)
    assert raised_in in logged


# -- tokens no client can send ------------------------------------------------------------------
# The token was only checked for length and control characters. One with a space at either end
# can never match (servers trim header values, and so does the bearer parser), and one with
# non-ASCII characters matches only clients that send UTF-8 bytes (curl), not those that send
# Latin-1 (Python's http.client, requests) or refuse (browsers' fetch). Both locked scripts out
# with a 401 and no hint; they are configuration errors now.


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (" " + "t" * 20, "must not start or end with whitespace"),
        ("t" * 20 + " ", "must not start or end with whitespace"),
        ("\u00a0" + "t" * 20, "must not start or end with whitespace"),
        ("token-with-\u00df-is-long", "printable ASCII"),
        ("t" * 20 + "\u200b", "printable ASCII"),
    ],
)
def test_a_token_no_client_can_send_is_a_value_error(
    tmp_path: Path, token: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dashboard(tmp_path / "analytics.duckdb", token=token)


@pytest.mark.parametrize("token", ["t" * 16, "with inner spaces is fine!", "A-Za-z0-9._~+/=" * 2])
def test_a_token_of_printable_ascii_reads_the_api(db: Path, token: str) -> None:
    app = dashboard(db, token=token)
    response = get(app, "/api/sites", headers={"Authorization": f"Bearer {token}"}, auth=None)
    assert response.status_code == 200
