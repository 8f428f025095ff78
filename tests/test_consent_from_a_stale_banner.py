"""A decision posted from a banner that is not this policy's decides nothing.

The banner's forms carry `policy_version`, the version it was rendered under (banner.js sends
it in its JSON too). A choice made on a banner of another version (a deploy between the page
and the click, or a rolling deploy where the page came from an old server) is no consent to
this version: a form goes back to `next` (the page shows the current banner), JSON gets 409
with the state in force. No cookie, no receipt. A version the policy `accepts_versions`, or
no `policy_version` at all (API clients, banners from before the field), decides as always.
A refusal (a withdrawal, a "reject all") is honoured whatever version it names: refusing must
never be harder than accepting, and a refusal grants only what is required under any version.

A form naming a category this policy does not have (the banner from before a deploy that
dropped or renamed it) also goes back to `next`, deciding nothing: before, the visitor got a
raw JSON error page, with and without JavaScript. JSON clients keep the 400.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cookiewall import Category, ReceiptLog
from tests.test_cookiewall_support import VERSION, call, make_app, make_policy

OLD = "2026-10-01"  # a version this host no longer honours
ACCEPTED = "2026-11-01"  # one it `accepts_versions` (a rolling deploy)
ACTIONS = [
    {"action": "accept_all"},
    {"action": "save", "categories": ["analytics"]},
]


def _app(tmp_path: Path, **policy: Any) -> tuple[Any, Path]:
    path = tmp_path / "receipts.jsonl"
    app = make_app(
        policy=make_policy(accepts_versions=[ACCEPTED], **policy), receipts=ReceiptLog(path)
    )
    return app, path


def _receipts(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _consent_set_cookies(response: httpx.Response) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith("cookiewall=")]


def _post(app: Any, how: str, fields: dict[str, Any], **headers: str) -> httpx.Response:
    """POST a decision as the banner's form (urlencoded; multipart, as fetch sends a FormData)
    or as JSON. A list value is a repeated form field."""
    options: dict[str, Any]
    if how == "json":
        options = {"json": fields}
    elif how == "form":
        options = {"data": fields}
    else:
        pairs = [
            (name, value)
            for name, given in fields.items()
            for value in (given if isinstance(given, list) else [given])
        ]
        options = {"files": [(name, (None, value)) for name, value in pairs]}
    return call(app, "POST", "/consent", headers=headers or None, **options)


def _nothing_decided(response: httpx.Response, how: str, receipts: Path) -> None:
    if how == "json":
        assert response.status_code == 409, response.text
        body = response.json()
        assert "policy changed" in body["error"]
        # The state in force, as GET /consent gives it: the script shows the banner again.
        assert body["decided"] is False
        assert body["policy_version"] == VERSION
        assert {c["name"] for c in body["categories"]} >= {"necessary", "analytics"}
        assert "no-store" in response.headers["cache-control"]
    else:
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/page"
    assert not _consent_set_cookies(response)
    assert _receipts(receipts) == []


HOWS = ["form", "multipart", "json"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("decision", ACTIONS, ids=lambda d: d["action"])
def test_a_choice_on_a_banner_of_another_version_decides_nothing(
    tmp_path: Path, how: str, decision: dict[str, Any]
) -> None:
    app, receipts = _app(tmp_path)
    fields = {**decision, "next": "/page", "policy_version": OLD}
    _nothing_decided(_post(app, how, fields), how, receipts)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("version", [VERSION, ACCEPTED, None], ids=["own", "accepted", "absent"])
def test_a_choice_on_this_policys_banner_decides_as_always(
    tmp_path: Path, how: str, version: str | None
) -> None:
    app, receipts = _app(tmp_path)
    fields: dict[str, Any] = {"action": "save", "categories": ["analytics"], "next": "/page"}
    if version is not None:
        fields["policy_version"] = version
    response = _post(app, how, fields)
    assert response.status_code == (200 if how == "json" else 303), response.text
    assert _consent_set_cookies(response)
    (receipt,) = _receipts(receipts)
    assert receipt["action"] == "save"
    assert receipt["granted"] == ["analytics", "necessary"]
    assert receipt["policy_version"] == VERSION  # consent is to the version in force


def test_a_decided_visitors_choice_stays_in_force(tmp_path: Path) -> None:
    """A click on a stale banner by a visitor who had decided changes nothing either."""
    app, receipts = _app(tmp_path)
    first = _post(app, "json", {"action": "accept_all"})
    cookie = _consent_set_cookies(first)[0].split(";", 1)[0]
    stale = {"action": "save", "categories": [], "policy_version": OLD}
    response = _post(app, "json", stale, cookie=cookie)
    assert response.status_code == 409
    assert response.json()["summary"] == "all"
    assert not _consent_set_cookies(response)
    assert [r["action"] for r in _receipts(receipts)] == ["accept_all"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("decided", [False, True], ids=["undecided", "accepted-before"])
def test_a_reject_all_on_a_banner_of_another_version_is_honoured(
    tmp_path: Path, how: str, decided: bool
) -> None:
    """Refusing is never refused: a visitor who clicks "Reject all" on a stale banner (even one
    naming a category this policy lacks) has refused, under this version too; sending them back
    to a banner to refuse again would make refusing harder than accepting."""
    app, receipts = _app(tmp_path)
    headers: dict[str, str] = {}
    if decided:
        first = _post(app, "json", {"action": "accept_all"})
        headers["cookie"] = _consent_set_cookies(first)[0].split(";", 1)[0]
    fields: dict[str, Any] = {"action": "reject_all", "next": "/page", "policy_version": OLD}
    if how != "json":
        fields["categories"] = ["marketing-from-an-old-banner"]
    response = _post(app, how, fields, **headers)
    assert response.status_code == (200 if how == "json" else 303), response.text
    assert _consent_set_cookies(response)
    receipt = _receipts(receipts)[-1]
    assert receipt["action"] == "reject_all"
    assert receipt["granted"] == ["necessary"]
    assert receipt["policy_version"] == VERSION
    if how == "json":
        assert response.json()["summary"] == "none"


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(
    "version", [OLD, "", "x" * 5000, "v1\n"], ids=["old", "empty", "long", "ctl"]
)
def test_a_withdrawal_is_honoured_whatever_version_it_names(
    tmp_path: Path, how: str, version: str
) -> None:
    app, receipts = _app(tmp_path)
    first = _post(app, "json", {"action": "accept_all"})
    cookie = _consent_set_cookies(first)[0].split(";", 1)[0]
    fields = {"action": "withdraw", "next": "/page", "policy_version": version}
    response = _post(app, how, fields, cookie=cookie)
    assert response.status_code == (200 if how == "json" else 303), response.text
    assert any("max-age=0" in h.lower() for h in _consent_set_cookies(response))
    assert [r["action"] for r in _receipts(receipts)] == ["accept_all", "withdraw"]


@pytest.mark.parametrize(
    "version",
    [3, None, ["v"], "", "   ", "x" * 5000, "2026-11-28\n", "a\x7fb"],
    ids=["int", "null", "list", "empty", "blank", "long", "newline", "del"],
)
def test_a_malformed_version_in_json_is_a_400(tmp_path: Path, version: Any) -> None:
    app, receipts = _app(tmp_path)
    response = _post(app, "json", {"action": "accept_all", "policy_version": version})
    assert response.status_code == 400, response.text
    assert "policy_version" in response.json()["error"]
    assert not _consent_set_cookies(response)
    assert _receipts(receipts) == []


@pytest.mark.parametrize("how", ["form", "multipart"])
@pytest.mark.parametrize(
    "version",
    ["", "x" * 5000, "2026-11-28\n", [VERSION, VERSION], [VERSION, OLD]],
    ids=["empty", "long", "newline", "twice", "two"],
)
def test_a_malformed_version_in_a_form_is_a_stale_banner(
    tmp_path: Path, how: str, version: Any
) -> None:
    app, receipts = _app(tmp_path)
    fields = {"action": "accept_all", "next": "/page", "policy_version": version}
    _nothing_decided(_post(app, how, fields), how, receipts)


# -- a category the policy does not have (F1) ---------------------------------------------------


@pytest.mark.parametrize("how", ["form", "multipart"])
@pytest.mark.parametrize("version", [VERSION, None], ids=["current", "absent"])
def test_a_form_naming_a_category_the_policy_lacks_goes_back_to_the_page(
    tmp_path: Path, how: str, version: str | None
) -> None:
    """The banner of a policy with `marketing`, posted after a deploy of one without it
    (the same version, or a banner without the field): before, a raw JSON 400 page."""
    categories = [
        Category("necessary", required=True),
        Category("preferences"),
        Category("analytics"),
    ]
    app, receipts = _app(tmp_path, categories=categories, cookies=[])
    fields: dict[str, Any] = {
        "action": "save",
        "categories": ["analytics", "marketing"],
        "next": "/page",
    }
    if version is not None:
        fields["policy_version"] = version
    _nothing_decided(_post(app, how, fields), how, receipts)
    # JSON clients still learn what they did wrong.
    response = _post(app, "json", fields)
    assert response.status_code == 400
    assert response.json()["error"].startswith("unknown category: marketing")
    # Taking consent back with such a form is not refused.
    withdrawal = _post(app, how, {**fields, "action": "withdraw"})
    assert withdrawal.status_code == 303
    assert [r["action"] for r in _receipts(receipts)] == ["withdraw"]


@pytest.mark.parametrize(
    "body",
    [
        b"action=save&categories=spying",
        b"action=accept_all&categories=",
    ],
)
def test_a_hand_made_form_with_an_unknown_category_goes_home_deciding_nothing(
    tmp_path: Path, body: bytes
) -> None:
    app, receipts = _app(tmp_path)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = call(app, "POST", "/consent", content=body, headers=headers)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "set-cookie" not in response.headers
    assert _receipts(receipts) == []


@pytest.mark.parametrize("version", ["v1\n", "2026\r11", "v\x7f"])
def test_a_policy_version_with_control_characters_is_refused_at_start(version: str) -> None:
    """A browser sends a hidden field's line break back as CRLF: with such a version every
    decision made on the banner would count as from a stale banner, for ever."""
    with pytest.raises(ValueError, match="control characters"):
        make_policy(version=version)
