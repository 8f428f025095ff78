"""The receipt id stays out of everything a page script can read.

The consent cookie is HttpOnly so that no script on the page reads it; its receipt id is random
and the same for the decision's whole lifetime (180 days), "reject all" included. `GET
/consent` and the JSON answers of `POST`/`DELETE /consent` handed it out all the same: any
same-origin script (a widget, a tag loaded before consent because it sets no cookie) had a
stable per-browser identifier. The id stays in the cookie and the receipt log, and in
`Consent.receipt_id` for the server (h256 F1).

Served by uvicorn from this module (the example policy, with its Consent Mode signals, and a
receipt log in a folder of the test's), read by httpx and by a page script in Chromium.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import ConsentMiddleware, Policy, ReceiptLog
from tests.browser_support import browser_context
from tests.support import ROOT, uvicorn_server
from tests.test_cookiewall_support import consent_cookie, receipt_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser

POLICY_FILE = ROOT / "examples" / "cookiewall.toml"
SECRET_KEY = "receipt-id-hidden-key-0123456789"
DECISIONS: dict[str, dict[str, Any]] = {
    "accept all": {"action": "accept_all"},
    "reject all": {"action": "reject_all"},
    "save analytics": {"action": "save", "categories": ["analytics"]},
}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        "<body><main><h1>Shop</h1><p>Welcome.</p></main></body></html>"
    )


def make_app() -> ConsentMiddleware:
    """`uvicorn --factory`: the gate, banner injected, writing receipts to $RECEIPTS."""
    return ConsentMiddleware(
        Starlette(routes=[Route("/page", _page)]),
        policy=Policy.from_toml(POLICY_FILE),
        secret_key=SECRET_KEY,
        inject_banner=True,
        receipts=ReceiptLog(os.environ["RECEIPTS"]),
    )


@pytest.fixture(scope="module")
def receipts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("receipts") / "receipts.jsonl"


@pytest.fixture(scope="module")
def site(receipts: Path) -> Iterator[str]:
    app = f"{__name__}:make_app"
    with uvicorn_server(app, env={"RECEIPTS": str(receipts)}, factory=True) as (base_url, _):
        yield base_url


def newest_receipt_id(receipts: Path) -> str:
    receipt_id: str = json.loads(receipts.read_text().splitlines()[-1])["id"]
    return receipt_id


def every_receipt_id(receipts: Path) -> list[str]:
    return [json.loads(line)["id"] for line in receipts.read_text().splitlines()]


# What a page script may ask for, by a visitor who has decided: (method, path, extra options),
# each answered from the visitor's cookie; None: the answer to the decision itself.
READABLE: dict[str, tuple[str, str, dict[str, Any]] | None] = {
    "POST /consent (the decision)": None,
    "GET /consent": ("GET", "/consent", {}),
    "POST /consent (change of mind)": ("POST", "/consent", {"json": {"action": "reject_all"}}),
    "POST /consent (stale banner, 409)": (
        "POST",
        "/consent",
        {"json": {"action": "accept_all", "policy_version": "a-version-long-gone"}},
    ),
    "DELETE /consent": ("DELETE", "/consent", {}),
    "GET /consent/banner": ("GET", "/consent/banner?next=/page", {}),
    "GET /consent/banner (as a page)": (
        "GET",
        "/consent/banner?next=/page",
        {"headers": {"sec-fetch-dest": "document"}},
    ),
    "GET /consent/cookies": ("GET", "/consent/cookies", {}),
    "GET /consent/cookies?format=html": ("GET", "/consent/cookies?format=html", {}),
    "GET /consent/consent-mode.js": ("GET", "/consent/consent-mode.js", {}),
    "GET /consent/static/banner.js": ("GET", "/consent/static/banner.js", {}),
    "GET /page": ("GET", "/page", {}),
}


@pytest.mark.parametrize("asked", READABLE)
@pytest.mark.parametrize("decision", DECISIONS)
def test_no_answer_a_script_can_read_holds_the_receipt_id(
    site: str, receipts: Path, decision: str, asked: str
) -> None:
    with httpx.Client(base_url=site, headers={"origin": site}, timeout=30.0) as client:
        answer = decided = client.post("/consent", json=DECISIONS[decision])
        assert decided.status_code == 200, decided.text
        receipt_id = newest_receipt_id(receipts)
        cookie = consent_cookie(decided)
        assert receipt_of(cookie) == receipt_id  # the cookie has it: the check is not vacuous
        request = READABLE[asked]
        if request is not None:
            method, path, options = request
            answer = client.request(method, path, **options)
    assert answer.status_code in (200, 409), answer.text
    readable = [answer.text] + [
        value for name, value in answer.headers.multi_items() if name != "set-cookie"
    ]
    for text in readable:
        assert receipt_id not in text
        assert cookie not in text
        # Nor the id of a receipt the request wrote (a change of mind's, a withdrawal's).
        assert not set(every_receipt_id(receipts)) & set(_words(text))


def _words(text: str) -> list[str]:
    """`text` cut at everything a receipt id (URL-safe base64) cannot hold."""
    return "".join(c if c.isalnum() or c in "-_" else " " for c in text).split()


# In the page: everything a script of the site can read after the visitor's choice.
_READ_ALL = """async () => {
  const text = async (url, init) => (await fetch(url, init)).text();
  const json = {"content-type": "application/json"};
  return {
    "document.cookie": document.cookie,
    "the page": document.documentElement.outerHTML,
    "GET /consent": await text("/consent"),
    "GET /consent/banner": await text("/consent/banner?next=/page"),
    "GET /consent/consent-mode.js": await text("/consent/consent-mode.js"),
    "GET /consent/cookies": await text("/consent/cookies"),
    "POST /consent (stale banner)": await text("/consent", {method: "POST", headers: json,
      body: JSON.stringify({action: "accept_all", policy_version: "a-version-long-gone"})}),
  };
}"""
_CHANGE_THEN_WITHDRAW = """async () => {
  const json = {"content-type": "application/json"};
  const changed = await fetch("/consent", {method: "POST", headers: json,
    body: JSON.stringify({action: "save", categories: ["preferences"]})});
  const withdrawn = await fetch("/consent", {method: "DELETE"});
  return {"POST /consent": await changed.text(), "DELETE /consent": await withdrawn.text()};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("button", ["Reject all", "Accept all"])
def test_a_page_script_cannot_read_the_receipt_id(
    site: str, receipts: Path, browser: Browser, button: str
) -> None:
    with browser_context(browser) as context:
        page = context.new_page()
        page.set_default_timeout(10000)
        page.goto(f"{site}/page")
        with page.expect_response(
            lambda r: r.url == f"{site}/consent" and r.request.method == "POST"
        ) as answered:
            page.get_by_role("button", name=button).click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        receipt_id = newest_receipt_id(receipts)
        (cookie,) = [c for c in context.cookies() if c["name"] == "cookiewall"]
        assert cookie["httpOnly"]
        assert receipt_of(cookie["value"]) == receipt_id  # the browser holds it, hidden
        read = {**page.evaluate(_READ_ALL), "the banner's POST /consent": answered.value.text()}
        page.reload()
        read["the page, reloaded"] = page.content()
        assert json.loads(read["GET /consent"])["decided"] is True
        for what, text in read.items():
            assert receipt_id not in text, what
            assert cookie["value"] not in text, what
        # A change of mind and a withdrawal, by script: their answers name no receipt either.
        read = page.evaluate(_CHANGE_THEN_WITHDRAW)
        written = every_receipt_id(receipts)
        for what, text in read.items():
            assert not set(written) & set(_words(text)), what
