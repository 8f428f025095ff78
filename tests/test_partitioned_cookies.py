"""Partitioned (CHIPS) cookies: a browser keeps them in a jar of their own, and a deletion
reaches that jar only if it says `Partitioned` too. A rule declares such a cookie with
`partitioned=True`, and withdrawal then expires it in both jars."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cookiewall import CookieRule, Policy
from tests.support import uvicorn_server
from tests.test_cookiewall_support import call, decide, make_app, make_policy

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def _policy(**rule: Any) -> Policy:
    base = make_policy()
    return make_policy(cookies=[*base.cookies, CookieRule("widget", "preferences", **rule)])


def _withdraw(policy: Policy, cookie: str) -> list[str]:
    app = make_app(policy=policy)
    value = decide(app, "accept_all")
    response = call(app, "DELETE", "/consent", headers={"cookie": f"cookiewall={value}; {cookie}"})
    assert response.status_code == 200
    return [h for h in response.headers.get_list("set-cookie") if h.startswith("widget=")]


def test_withdrawal_expires_a_partitioned_cookie_in_both_jars_over_http_too() -> None:
    deletions = _withdraw(_policy(partitioned=True), "widget=1")
    assert len(deletions) == 2
    plain, partitioned = sorted(deletions, key=lambda h: "Partitioned" in h)
    assert "Partitioned" not in plain
    # Browsers refuse Partitioned without Secure, whatever scheme the app sees.
    assert "; Secure" in partitioned
    assert partitioned.endswith("; Partitioned")
    assert all("Max-Age=0" in h for h in deletions)


def test_with_a_domain_every_combination_is_expired() -> None:
    deletions = _withdraw(_policy(partitioned=True, domain=".example.com"), "widget=1")
    kinds = {("Domain=" in h, "Partitioned" in h) for h in deletions}
    assert kinds == {(True, False), (True, True), (False, False), (False, True)}


def test_a_partitioned_cookie_outside_the_endpoint_path_is_expired_blind() -> None:
    deletions = _withdraw(_policy(partitioned=True, path="/shop"), "other=1")
    assert sorted("Partitioned" in h for h in deletions) == [False, True]
    assert all("Path=/shop" in h for h in deletions)


def test_an_ordinary_rule_sends_no_partitioned_deletion() -> None:
    deletions = _withdraw(_policy(), "widget=1")
    assert len(deletions) == 1
    assert "Partitioned" not in deletions[0]


def test_toml_declares_it_and_refuses_a_non_boolean(tmp_path: Path) -> None:
    body = """
version = "1"
[[categories]]
name = "necessary"
required = true
[[categories]]
name = "preferences"
[[cookies]]
pattern = "widget"
category = "preferences"
partitioned = {value}
"""
    good = tmp_path / "good.toml"
    good.write_text(body.format(value="true"))
    assert Policy.from_toml(good).rule_for("widget").partitioned is True  # type: ignore[union-attr]
    bad = tmp_path / "bad.toml"
    bad.write_text(body.format(value='"yes"'))
    with pytest.raises(ValueError, match="partitioned must be true or false"):
        Policy.from_toml(bad)


@pytest.fixture(params=[True, False], ids=["declared-partitioned", "not-declared"])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    env = {"PARTITIONED_RULE": "1" if request.param else "0"}
    with uvicorn_server("tests.apps.partitioned_app:app", env=env) as (base_url, _):
        yield base_url, request.param


@pytest.mark.browser
def test_in_chromium_withdrawal_removes_a_partitioned_cookie(
    browser: Browser, site: tuple[str, bool]
) -> None:
    base, declared = site
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + "/")
        status = page.evaluate(
            """async () => (await fetch('/consent', {method: 'POST',
                headers: {'content-type': 'application/json'},
                body: JSON.stringify({action: 'accept_all'})})).status"""
        )
        assert status == 200
        page.goto(base + "/set")
        widget = [c for c in context.cookies() if c["name"] == "widget"]
        assert widget, "Chromium did not store the partitioned cookie"
        assert widget[0].get("partitionKey")  # it really is in the partitioned jar
        status = page.evaluate("async () => (await fetch('/consent', {method: 'DELETE'})).status")
        assert status == 200
        left = {c["name"] for c in context.cookies()}
        # Without the rule's flag the ordinary deletion misses the partitioned jar: that is
        # the whole reason the flag exists.
        assert ("widget" in left) is (not declared)
    finally:
        context.close()
