"""How an auditor pairs receipts: a receipt carries its consent cookie's decision time, a
changed decision's receipt names the receipt it replaces, and a withdrawal's the one it
withdraws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cookiewall import ReceiptLog
from tests.test_cookiewall_support import call, consent_cookie, decide, make_app

# -- a withdrawal's receipt names the receipt it withdraws -------------------------------------


def _receipts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _withdraw(app: Any, how: str, cookie: str, **headers: str) -> Any:
    headers = {**headers, "cookie": f"cookiewall={cookie}"}
    if how == "DELETE":
        return call(app, "DELETE", "/consent", headers=headers)
    if how == "form":
        data = {"action": "withdraw", "next": "/"}
        return call(app, "POST", "/consent", data=data, headers=headers)
    return call(app, "POST", "/consent", json={"action": "withdraw"}, headers=headers)


@pytest.mark.parametrize("how", ["DELETE", "form", "JSON"])
@pytest.mark.parametrize("action", ["accept_all", "reject_all", "save"])
@pytest.mark.parametrize("gpc", [False, True])
def test_withdrawal_receipt_names_the_withdrawn_receipt(
    tmp_path: Path, how: str, action: str, gpc: bool
) -> None:
    """Fixed in "receipts: a withdrawal names the receipt of the decision it withdraws": the
    withdrawal's receipt had only its own random id, so an auditor could not tell which
    consent it ended. It now carries `withdraws`, the earlier receipt's (random) id: nothing
    about the visitor."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    extra = {"sec-gpc": "1"} if gpc else {}
    cookie = decide(app, action, ("analytics",), **extra)
    response = _withdraw(app, how, cookie, **extra)
    assert response.status_code in (200, 303)
    decision, withdrawal = _receipts(path)
    assert withdrawal["action"] == "withdraw"
    assert withdrawal["withdraws"] == decision["id"]
    assert withdrawal["id"] != decision["id"]
    assert set(withdrawal) == {
        "id",
        "time",
        "policy_version",
        "granted",
        "action",
        "gpc",
        "withdraws",
    }


def test_withdrawal_names_the_decision_in_force_after_a_change(tmp_path: Path) -> None:
    """The newest decision is the one withdrawn, not the first one."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    first = decide(app, "accept_all")
    changed = call(
        app,
        "POST",
        "/consent",
        json={"action": "reject_all"},
        headers={"cookie": f"cookiewall={first}"},
    )
    _withdraw(app, "DELETE", consent_cookie(changed))
    accepted, rejected, withdrawal = _receipts(path)
    assert withdrawal["withdraws"] == rejected["id"] != accepted["id"]


@pytest.mark.parametrize(
    "cookie",
    [
        None,  # never decided
        "garbage",  # tampered: undecided
    ],
)
def test_withdrawal_without_a_decision_names_none(tmp_path: Path, cookie: str | None) -> None:
    """Nothing in force, nothing to name: the receipt has no `withdraws`."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    headers = {"cookie": f"cookiewall={cookie}"} if cookie else {}
    assert call(app, "DELETE", "/consent", headers=headers).status_code == 200
    (withdrawal,) = _receipts(path)
    assert "withdraws" not in withdrawal


@pytest.mark.parametrize(
    "withdraws",
    ["", "a b", "x" * 65, "1.2.3.4", "abc\n{}", "Mozilla/5.0"],
)
def test_record_refuses_a_withdraws_that_is_no_receipt_id(tmp_path: Path, withdraws: str) -> None:
    """`withdraws` takes a receipt id (URL-safe base64), never free text that could carry an
    address or a user agent into the log."""
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="withdraws"):
        log.record(
            receipt_id="abc",
            action="withdraw",
            policy_version="v",
            granted=[],
            gpc=False,
            withdraws=withdraws,
        )
    assert not log.path.exists() or log.path.read_text() == ""


def test_record_takes_withdraws_only_for_a_withdrawal(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="withdraws"):
        log.record(
            receipt_id="abc",
            action="accept_all",
            policy_version="v",
            granted=[],
            gpc=False,
            withdraws="PGqCeQ6hKqMfSJOo",
        )
