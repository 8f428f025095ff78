"""Three messages that now say what would have been right, and a declaration that no longer
lists a cookie the app only deletes.

* POST /consent naming an unknown category: the 400 names the policy's categories (as
  `Consent.allows` does); the client's text is echoed at most 64 characters, in JSON.
* A policy file's unknown key ([[cookies]], [[categories]], top level) lists the allowed
  keys, and the one it most likely misspells (`consent_max_age` for `consent_max_age_days`).
* `delete_cookie("gone")` from the app sets nothing: the deletion still goes out, but `gone`
  is not declared as a cookie seen on the site (`GET /consent/cookies`, `undeclared`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware, Policy
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

SAME_ORIGIN = {"origin": "http://testserver"}
KNOWN = "analytics, marketing, necessary, preferences"

# -- a. POST /consent with an unknown category --------------------------------------------------


def test_an_unknown_category_is_refused_naming_the_known_ones() -> None:
    response = call(
        make_app(),
        "POST",
        "/consent",
        json={"action": "save", "categories": ["preference"]},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": f"unknown category: preference (this policy's categories: {KNOWN})"
    }
    assert "set-cookie" not in response.headers


def test_a_form_naming_an_unknown_category_echoes_nothing_and_json_no_markup_as_html() -> None:
    hostile = "<script>alert(1)</script>"
    # A form goes back to the page deciding nothing (a banner from before a deploy): nothing
    # of what it sent comes back.
    form = call(
        make_app(),
        "POST",
        "/consent",
        data={"action": "save", "categories": hostile},
        headers=SAME_ORIGIN,
    )
    assert form.status_code == 303
    assert form.headers["location"] == "/"
    assert "set-cookie" not in form.headers
    assert "script" not in form.text
    assert all("script" not in value for value in form.headers.values())
    # JSON still learns what it did wrong, as JSON a browser will not render as HTML.
    response = call(
        make_app(),
        "POST",
        "/consent",
        json={"action": "save", "categories": [hostile]},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    message = json.loads(response.text)["error"]
    assert message == f"unknown category: {hostile} (this policy's categories: {KNOWN})"


def test_a_long_unknown_category_is_echoed_cut_to_a_category_names_length() -> None:
    response = call(
        make_app(),
        "POST",
        "/consent",
        json={"action": "save", "categories": ["x" * 50_000]},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert message == f"unknown category: {'x' * 64}... (this policy's categories: {KNOWN})"


# -- c. a policy file's unknown keys ----------------------------------------------------------

_CATEGORY = '[[categories]]\nname = "necessary"\nrequired = true\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'version = "1"\n' + _CATEGORY + '[[cookies]]\nname = "sid"\ncategory = "necessary"\n',
            "[[cookies]] has unknown keys: name (allowed: pattern, category,"
            " purpose, domain, path, partitioned)",
        ),
        (
            'version = "1"\n' + _CATEGORY + '[[categories]]\nname = "ads"\ngpc_optout = true\n',
            "[[categories]] has unknown keys: gpc_optout (allowed: name,"
            " description, required, gpc_opt_out, consent_mode); did you mean gpc_opt_out?",
        ),
        (
            'version = "1"\nconsent_max_age = 30\n' + _CATEGORY,
            "unknown policy keys: consent_max_age (allowed: version,"
            " accepts_versions, consent_max_age_days, unknown_cookies, gpc_last_update, texts,"
            " categories, cookies); did you mean consent_max_age_days?",
        ),
        (
            'version = "1"\ncolour = "red"\ncookie = []\n' + _CATEGORY,
            "unknown policy keys: colour, cookie (allowed: version,"
            " accepts_versions, consent_max_age_days, unknown_cookies, gpc_last_update, texts,"
            " categories, cookies); did you mean cookies for cookie?",
        ),
    ],
    ids=["cookies", "categories-misspelt", "top-level-misspelt", "top-level-two"],
)
def test_an_unknown_key_names_the_allowed_ones(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match="unknown") as raised:
        Policy.from_toml(path)
    assert str(raised.value) == f"{path}: {message}"  # the whole line, word for word


# -- b. a deletion is no cookie seen on the site ------------------------------------------------


async def _cleans_up(request: Request) -> Response:
    response = PlainTextResponse("ok")
    response.delete_cookie("gone")  # a retired cookie, removed from visitors' browsers
    response.headers.append("set-cookie", "old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/")
    response.set_cookie("stray", "1")  # a cookie it does set, declared by no rule
    return response


def _gate(**options: Any) -> ConsentMiddleware:
    app = Starlette(routes=[Route("/", _cleans_up)])
    return ConsentMiddleware(app, policy=make_policy(**options), secret_key=SECRET)


@pytest.mark.parametrize("unknown_cookies", ["block", "allow"])
def test_a_deleted_cookie_is_not_declared_as_undeclared(unknown_cookies: str) -> None:
    gate = _gate(unknown_cookies=unknown_cookies)
    page = call(gate, "GET", "/")
    sent = page.headers.get_list("set-cookie")
    # The removal itself goes out as before.
    assert any(h.startswith('gone=""') or h.startswith("gone=;") for h in sent), sent
    assert any(h.startswith("old=;") for h in sent), sent
    assert any(h.startswith("stray=") for h in sent) is (unknown_cookies == "allow")
    declaration = call(gate, "GET", "/consent/cookies").json()
    assert declaration["undeclared"] == ["stray"]
    assert list(gate.undeclared) == ["stray"]
