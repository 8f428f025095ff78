"""A decision made under GPC (or DNT with `honor_dnt=True`) stores only what the visitor could
choose: the banner showed the `gpc_opt_out` categories disabled ("off while your browser sends
Global Privacy Control"), so "Accept all" or "Save" then does not grant them.

Before, the cookie and the receipt of such an "Accept all" recorded `marketing` as granted:
GPC kept it off on that request, but once the signal was gone (another browser profile, an
extension turned off) marketing was allowed, a consent the visitor was never asked for. The
receipt keeps the button pressed as its action; `summary` follows what is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cookiewall import ReceiptLog
from tests.test_cookiewall_support import call, consent_cookie, make_app

SIGNALS = [
    pytest.param({"sec-gpc": "1"}, False, id="gpc"),
    pytest.param({"dnt": "1"}, True, id="dnt-honoured"),
]
DECISIONS = [
    pytest.param({"action": "accept_all"}, id="accept_all"),
    pytest.param({"action": "save", "categories": ["analytics", "marketing"]}, id="save"),
]


def _state(app: Any, cookie: str, **headers: str) -> dict[str, Any]:
    response = call(app, "GET", "/state", headers={"cookie": f"cookiewall={cookie}", **headers})
    data: dict[str, Any] = response.json()
    return data


def _decide(
    app: Any, form: bool, decision: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    if form:
        return call(app, "POST", "/consent", data={**decision, "next": "/"}, headers=headers)
    return call(app, "POST", "/consent", json=decision, headers=headers)


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
@pytest.mark.parametrize("decision", DECISIONS)
@pytest.mark.parametrize(("signal", "honor_dnt"), SIGNALS)
def test_a_category_the_signal_refused_is_not_granted_later_without_it(
    tmp_path: Path, form: bool, decision: dict[str, Any], signal: dict[str, str], honor_dnt: bool
) -> None:
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path), honor_dnt=honor_dnt)
    response = _decide(app, form, decision, signal)
    assert response.status_code == (303 if form else 200), response.text
    if not form:
        answered = response.json()
        assert "marketing" not in answered["granted"]
        assert answered["summary"] == "custom"
    cookie = consent_cookie(response)
    # The signal gone (another profile, an extension off): still not granted.
    later = _state(app, cookie)
    assert "marketing" not in later["granted"]
    assert "analytics" in later["granted"]
    assert later["summary"] == "custom"
    (receipt,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert receipt["action"] == decision["action"]  # the button pressed
    assert receipt["gpc"] is True
    assert "marketing" not in receipt["granted"]
    assert "analytics" in receipt["granted"]


@pytest.mark.parametrize("decision", DECISIONS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"sec-gpc": "0"}, {"dnt": "1"}],
    ids=["no-signal", "gpc-0", "dnt-not-honoured"],
)
def test_without_the_signal_a_choice_grants_what_it_names(
    tmp_path: Path, decision: dict[str, Any], headers: dict[str, str]
) -> None:
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    response = _decide(app, False, decision, headers)
    assert "marketing" in response.json()["granted"]
    assert "marketing" in _state(app, consent_cookie(response))["granted"]
    (receipt,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert "marketing" in receipt["granted"]


def test_an_earlier_accept_all_is_still_refused_under_gpc_and_back_after() -> None:
    """Unchanged (SPEC 3.2 rule 4): a choice made without the signal is overridden while it
    is sent, and holds again without it."""
    app = make_app()
    response = _decide(app, False, {"action": "accept_all"}, {})
    cookie = consent_cookie(response)
    assert "marketing" not in _state(app, cookie, **{"sec-gpc": "1"})["granted"]
    assert _state(app, cookie)["summary"] == "all"
