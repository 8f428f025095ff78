"""How an auditor pairs receipts: a receipt carries its consent cookie's decision time, a
changed decision's receipt names the receipt it replaces, and a withdrawal's the one it
withdraws."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cookiewall import ReceiptLog
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import (
    SECRET,
    call,
    consent_cookie,
    decide,
    make_app,
    make_policy,
)

# -- a withdrawal's receipt names the receipt it withdraws -------------------------------------


def _receipts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _record(
    log: ReceiptLog,
    action: str,
    granted: list[str] | None = None,
    *,
    withdraws: str | None = None,
    replaces: str | None = None,
) -> None:
    """One receipt written straight through `log.record` (id "abc", policy "v", no GPC):
    only the action, the granted categories and the links vary between these tests."""
    log.record(
        receipt_id="abc",
        action=action,
        policy_version="v",
        granted=granted or [],
        gpc=False,
        withdraws=withdraws,
        replaces=replaces,
    )


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
        _record(log, "withdraw", withdraws=withdraws)
    assert not log.path.exists() or log.path.read_text() == ""


def test_record_takes_withdraws_only_for_a_withdrawal(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="withdraws"):
        _record(log, "accept_all", withdraws="PGqCeQ6hKqMfSJOo")


# -- a changed decision's receipt names the receipt it replaces ---------------------------------

BASE_KEYS = {"id", "time", "policy_version", "granted", "action", "gpc"}


RECEIPT_ID = "PGqCeQ6hKqMfSJOo"


def _change(app: Any, action: str, cookie: str | None, how: str, **headers: str) -> Any:
    if cookie is not None:
        headers = {**headers, "cookie": f"cookiewall={cookie}"}
    categories = ["analytics"] if action == "save" else []
    if how == "form":
        data = {"action": action, "categories": categories, "next": "/"}
        return call(app, "POST", "/consent", data=data, headers=headers)
    body = {"action": action, "categories": categories}
    return call(app, "POST", "/consent", json=body, headers=headers)


@pytest.mark.parametrize("first", ["accept_all", "reject_all", "save"])
@pytest.mark.parametrize("then", ["accept_all", "reject_all", "save"])
@pytest.mark.parametrize("how", ["JSON", "form"])
@pytest.mark.parametrize("gpc", [False, True])
def test_changed_decision_names_the_receipt_it_replaces(
    tmp_path: Path, first: str, then: str, how: str, gpc: bool
) -> None:
    """A change of mind wrote a receipt nothing linked to the decision it replaced, so an
    auditor could not pair "accept all" with the later "reject all". It now carries
    `replaces`: the earlier receipt's (random) id, nothing about the visitor."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    extra = {"sec-gpc": "1"} if gpc else {}
    cookie = decide(app, first, ("analytics",), **extra)
    response = _change(app, then, cookie, how, **extra)
    assert response.status_code in (200, 303), response.text
    earlier, changed = _receipts(path)
    assert changed["action"] == then
    assert changed["replaces"] == earlier["id"] != changed["id"]
    assert "replaces" not in earlier  # the first decision replaced nothing
    assert set(changed) == BASE_KEYS | {"replaces"}
    # The new cookie carries the new receipt, which the next change will name (the app's
    # `request.state.consent`: no endpoint hands a page script the id).
    new_cookie = {"cookie": f"cookiewall={consent_cookie(response)}"}
    assert call(app, "GET", "/state", headers=new_cookie).json()["receipt_id"] == changed["id"]


def test_a_chain_of_changes_pairs_each_receipt_with_the_one_before(tmp_path: Path) -> None:
    """accept all -> reject all -> save -> withdraw: every receipt names its predecessor, the
    decisions in `replaces`, the withdrawal in `withdraws` (never both)."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    cookie = decide(app, "accept_all")
    for action in ("reject_all", "save"):
        cookie = consent_cookie(_change(app, action, cookie, "JSON"))
    response = call(app, "DELETE", "/consent", headers={"cookie": f"cookiewall={cookie}"})
    assert response.status_code == 200
    accepted, rejected, saved, withdrawal = _receipts(path)
    assert set(accepted) == BASE_KEYS
    assert rejected["replaces"] == accepted["id"]
    assert saved["replaces"] == rejected["id"]
    assert withdrawal["withdraws"] == saved["id"]
    assert set(withdrawal) == BASE_KEYS | {"withdraws"}


def _expired_cookie() -> str:
    codec = ConsentCodec(make_policy(), SECRET)
    long_ago = int(time.time()) - int(make_policy().consent_max_age.total_seconds()) - 10
    return codec.sign(frozenset({"analytics"}), long_ago, RECEIPT_ID)


def _other_key_cookie() -> str:
    codec = ConsentCodec(make_policy(), "another-site-secret-0123456789")
    return codec.sign(frozenset({"analytics"}), int(time.time()), RECEIPT_ID)


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(None, id="never decided"),
        pytest.param("garbage", id="tampered"),
        pytest.param(_expired_cookie(), id="expired"),
        pytest.param(_other_key_cookie(), id="signed with a key not ours"),
    ],
)
def test_a_decision_with_nothing_in_force_replaces_nothing(
    tmp_path: Path, cookie: str | None
) -> None:
    """Guard: only a valid consent cookie is a decision in force. An expired or forged one
    names nothing, even though it carries a well-formed receipt id. (A genuine decision of
    another policy version is linked: tests/test_consent_other_policy_versions.py.)"""
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    response = _change(app, "accept_all", cookie, "JSON")
    assert response.status_code == 200
    (receipt,) = _receipts(path)
    assert set(receipt) == BASE_KEYS
    assert RECEIPT_ID not in path.read_text()


def test_a_cookie_signed_with_an_older_key_still_names_its_receipt(tmp_path: Path) -> None:
    """Key rotation does not end a decision: its cookie is re-signed, its receipt paired."""
    old_key = "the-previous-secret-0123456789"
    path = tmp_path / "receipts.jsonl"
    before = make_app(secret_key=old_key, receipts=ReceiptLog(path))
    cookie = decide(before, "accept_all")
    after = make_app(secret_key=[SECRET, old_key], receipts=ReceiptLog(path))
    assert _change(after, "reject_all", cookie, "form").status_code == 303
    accepted, rejected = _receipts(path)
    assert rejected["replaces"] == accepted["id"]


def test_the_newest_of_several_consent_cookies_is_the_one_replaced(tmp_path: Path) -> None:
    """With two consent cookies in one header (two paths), the newest valid decision is the
    one in force, as everywhere else."""
    path = tmp_path / "receipts.jsonl"
    codec = ConsentCodec(make_policy(), SECRET)
    now = int(time.time())
    older = codec.sign(frozenset(), now - 100, "olderReceipt")
    newer = codec.sign(frozenset({"analytics"}), now - 10, "newerReceipt")
    app = make_app(receipts=ReceiptLog(path))
    header = f"cookiewall={older}; cookiewall={newer}"
    response = call(
        app, "POST", "/consent", json={"action": "accept_all"}, headers={"cookie": header}
    )
    assert response.status_code == 200
    (receipt,) = _receipts(path)
    assert receipt["replaces"] == "newerReceipt"


def test_replacing_receipt_holds_nothing_about_the_visitor(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(path))
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/999.0"
    sent_by: dict[str, Any] = {"user-agent": agent}
    cookie = decide(app, "accept_all", **sent_by)
    response = _change(app, "reject_all", cookie, "JSON", **{"user-agent": agent})
    text = path.read_text()
    for private in ("203.0.113.7", agent, cookie, consent_cookie(response)):
        assert private not in text


@pytest.mark.parametrize(
    "replaces",
    ["", "a b", "x" * 65, "1.2.3.4", "abc\n{}", "Mozilla/5.0", 'a","granted":["all"]'],
)
def test_record_refuses_a_replaces_that_is_no_receipt_id(tmp_path: Path, replaces: str) -> None:
    """`replaces` takes a receipt id (URL-safe base64), never free text that could carry an
    address or a user agent into the log, or forge a field."""
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="replaces"):
        _record(log, "accept_all", replaces=replaces)
    assert not log.path.exists() or log.path.read_text() == ""


def test_record_takes_replaces_only_on_a_decision(tmp_path: Path) -> None:
    """A withdrawal names the decision it ends in `withdraws`: one link, one meaning."""
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="replaces"):
        _record(log, "withdraw", replaces=RECEIPT_ID)
    _record(log, "save", ["analytics"], replaces=RECEIPT_ID)
    (entry,) = _receipts(log.path)
    assert entry["replaces"] == RECEIPT_ID


# -- one instant for the receipt and the cookie ------------------------------------------


def _ticking_clock(start: float) -> Iterator[float]:
    """A clock that moves a whole second between reads: two reads can never agree."""
    moment = start
    while True:
        yield moment
        moment += 1.0


@pytest.mark.parametrize("start", [1_900_000_000.0, 1_900_000_000.999, 1_800_000_059.5])
@pytest.mark.parametrize(
    ("action", "categories"),
    [("accept_all", []), ("reject_all", []), ("save", ["analytics"]), ("save", [])],
)
def test_a_receipt_has_the_decision_time_signed_into_its_cookie(
    start: float,
    action: str,
    categories: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An auditor pairs a cookie with its receipt by id and expects the same time in both."""
    log_path = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(log_path))
    clock = _ticking_clock(start)
    monkeypatch.setattr(time, "time", lambda: next(clock))
    response = call(app, "POST", "/consent", json={"action": action, "categories": categories})
    monkeypatch.undo()
    assert response.status_code == 200, response.text
    [receipt] = [json.loads(line) for line in log_path.read_text().splitlines()]
    receipt_time = datetime.fromisoformat(receipt["time"].replace("Z", "+00:00"))
    decision = app.codec.verify(consent_cookie(response), now=start + 60)
    assert decision is not None
    assert decision.receipt_id == receipt["id"]
    assert receipt_time == datetime.fromtimestamp(decision.decided_at, UTC)


def test_a_receipt_time_without_a_patched_clock_is_now() -> None:
    """The shared instant is the real clock's when nothing patches it (no fixed time left in)."""
    app = make_app()
    before = int(time.time())
    decision = app.codec.verify(consent_cookie(call(app, "POST", "/consent", json=_ACCEPT)))
    assert decision is not None
    assert before <= decision.decided_at <= int(time.time())


_ACCEPT: dict[str, Any] = {"action": "accept_all"}
