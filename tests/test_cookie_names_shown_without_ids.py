"""Cookie names the gate publishes (the declaration's `undeclared` list, open to anyone) and
logs carry no account number, id or e-mail address: WordPress's `wp-settings-<user id>`,
set behind its login, would tell every visitor which accounts exist. Such parts become `*`;
fixed names keep their shape, so the site still learns which cookie its policy forgets."""

from __future__ import annotations

import pytest

from cookiewall.cookienames import shown_name


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("wp-settings-time-1337", "wp-settings-time-*"),
        ("wp-settings-42", "wp-settings-*"),
        ("last_seen_jane.doe.8812345", "last_seen_jane.doe.*"),
        ("_ga_ABC1234567", "_ga_*"),
        ("_hjSessionUser_123456", "_hjSessionUser_*"),
        ("wordpress_logged_in_5f4dcc3b5aa765d61d8327deb882cf99", "wordpress_logged_in_*"),
        ("AMP_a1b2c3d4e5", "AMP_*"),
        # An address goes whole, with what `_` joins to it (the safe side); %40 is an @.
        ("seen_jane.doe@example.com", "(masked)"),
        ("jane.doe@example.com_seen", "*_seen"),
        ("remember_jane.smith%40example.com", "(masked)"),
        ("last-login|jane_smith@example.com", "last-login|*"),
        # A UUID's 4-character groups, and hex groups alone, are pieces of an id.
        ("pref_6f1c2d3e-ab1c-4d2e-9f0a-1234567890ab", "pref_*"),
        ("x-ab1c-9f0a", "x-*-*"),
        # Masks alone would read as a pattern for every cookie.
        ("123456", "(masked)"),
        ("cart-1732867200", "cart-*"),
    ],
)
def test_parts_that_name_one_account_are_masked(name: str, shown: str) -> None:
    assert shown_name(name) == shown


@pytest.mark.parametrize(
    "name",
    [
        "PHPSESSID",
        "__Secure-3PSID",
        "1P_JAR",
        "theme_v10",
        "wp-settings-1",
        "cf_clearance",
        "__utma",
        "csrftoken",
        "ab_test_v2",
        "ASP.NET_SessionId",
    ],
)
def test_fixed_names_stay_as_they_are(name: str) -> None:
    assert shown_name(name) == name


def test_per_user_names_become_one_name() -> None:
    # A thousand accounts are one entry, not a thousand (the gate remembers at most 1 024
    # names: per-user names would fill that memory and hide the names that matter).
    assert {shown_name(f"wp-settings-time-{uid}") for uid in range(10, 1010)} == {
        "wp-settings-time-*"
    }


# Through the gate: what the app sets behind a login, what anyone reads back.

import asyncio  # noqa: E402
import logging  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from cookiewall import Category, ConsentMiddleware, CookieRule, Policy  # noqa: E402

ORIGIN = "https://example.com"


async def logged_in_page(request: Request) -> HTMLResponse:
    response = HTMLResponse("<!doctype html><html><body><p>hi</p></body></html>")
    user = request.query_params["user"]
    response.set_cookie(f"wp-settings-time-{user}", "1732867200")  # undeclared
    response.set_cookie(f"last_seen_{user}", "1")  # declared by a pattern, not consented
    return response


def test_the_public_declaration_and_the_log_name_no_account(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy(
        version="v1",
        categories=[
            Category("necessary", required=True, description="Needed."),
            Category("preferences", description="Remember choices."),
        ],
        cookies=[CookieRule("last_seen_*", "preferences")],
    )
    app = ConsentMiddleware(
        Starlette(routes=[Route("/p", logged_in_page)]),
        policy=policy,
        secret_key="key-0123456789abcdef0123456789abcdef",
    )

    async def go() -> tuple[list[str], Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            for user in ("1337", "8812345", "4242"):
                answer = await client.get("/p", params={"user": user})
                assert "set-cookie" not in answer.headers  # removed: no consent, undeclared
            declaration = (await client.get("/consent/cookies")).json()
            return declaration["undeclared"], declaration

    with caplog.at_level(logging.DEBUG, logger="cookiewall"):
        undeclared, declaration = asyncio.run(go())
    assert undeclared == ["wp-settings-time-*"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for account in ("1337", "8812345", "4242"):
        assert account not in str(declaration)
        assert account not in logged
    assert "wp-settings-time-*" in logged
    assert app.removed_by_name == {"wp-settings-time-*": 3, "last_seen_*": 3}


def test_an_app_cookie_masked_like_the_consent_cookie_does_not_hide_its_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy(
        version="v1", categories=[Category("necessary", required=True, description="Needed.")]
    )

    async def sets(request: Request) -> HTMLResponse:
        response = HTMLResponse("<!doctype html><html><body><p>hi</p></body></html>")
        response.set_cookie(request.query_params["name"], "x")
        return response

    app = ConsentMiddleware(
        Starlette(routes=[Route("/p", sets)]),
        policy=policy,
        secret_key="key-0123456789abcdef0123456789abcdef",
        cookie_name="consent_2024",
    )

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            for name in ("consent_99999", "consent_2024"):
                assert "set-cookie" not in (await client.get("/p", params={"name": name})).headers

    with caplog.at_level(logging.INFO, logger="cookiewall"):
        asyncio.run(go())
    warned = [r.getMessage() for r in caplog.records if "for the consent cookie" in r.getMessage()]
    assert warned == [
        "cookiewall: removed the app's Set-Cookie for the consent cookie 'consent_2024'"
        " (only the consent endpoints set it)"
    ]
    assert app.removed_by_name == {"consent_*": 1, "consent_2024": 1}
