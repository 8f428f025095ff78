"""A consent cookie made for another policy version: verified, it is undecided here but kept
(the visitor's decision on the servers of that version); bad, it is cleared as before. A
policy that `accepts_versions` counts it, granting only the categories both name. Re-signing
under a rotated key keeps its version, and a decision or withdrawal made over it names its
receipt."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from cookiewall import Category, ReceiptLog
from cookiewall.consent import SALT, ConsentCodec
from cookiewall.policy import MAX_ACCEPTED_VERSIONS, Policy
from tests.test_cookiewall_support import SECRET, VERSION, call, make_app, make_policy

NEW = "2026-12-24"
OLDER_KEY = "an-older-key-0123456789"


def _signed(payload: dict[str, Any], key: str = SECRET) -> str:
    value = URLSafeSerializer(key, salt=SALT).dumps(payload)
    assert isinstance(value, str)
    return value


def _payload(version: str = NEW, **changes: Any) -> dict[str, Any]:
    payload = {"v": version, "g": ["analytics"], "t": int(time.time()) - 60, "r": "receipt-v2"}
    payload.update(changes)
    return payload


def _consent_set_cookies(response: httpx.Response) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith("cookiewall=")]


def _state(app: Any, cookie: str, **headers: str) -> dict[str, Any]:
    response = call(app, "GET", "/state", headers={"cookie": f"cookiewall={cookie}", **headers})
    assert response.status_code == 200
    assert not _consent_set_cookies(response)
    data: dict[str, Any] = response.json()
    return data


# -- kept, not cleared; bad ones cleared as before ----------------------------------------------


def test_another_versions_decision_is_undecided_here_and_kept() -> None:
    app = make_app()
    cookie = _signed(_payload())
    for _ in range(3):  # verified, then from the cache and the header memo: the same answer
        response = call(app, "GET", "/", headers={"cookie": f"cookiewall={cookie}"})
        assert response.status_code == 200
        assert not _consent_set_cookies(response)
        assert _state(app, cookie)["summary"] == "undecided"
    assert app.stats["bad_cookies"] == 0
    assert app.codec.verifications == 1


def test_get_consent_answers_undecided_and_keeps_the_cookie() -> None:
    app = make_app()
    response = call(app, "GET", "/consent", headers={"cookie": f"cookiewall={_signed(_payload())}"})
    assert response.status_code == 200
    assert response.json()["decided"] is False
    assert response.json()["policy_version"] == VERSION
    assert not _consent_set_cookies(response)


@pytest.mark.parametrize(
    "cookie",
    [
        _signed(_payload(), key="not-our-key-0123456789"),  # another key: tampered
        _signed(_payload()) + "x",  # signature broken
        _signed(_payload(g="analytics")),  # categories not a list
        _signed(_payload(t="yesterday")),  # no decision time
        _signed(_payload(r="")),  # no receipt id
        _signed(_payload(v=3)),  # no version string
        # Expired: older than any policy's lifetime (395 days). One older than this policy's
        # alone may be valid on its own version's hosts: see the test after the next.
        _signed(_payload(t=int(time.time()) - 400 * 86400)),
    ],
    ids=["key", "signature", "categories", "time", "receipt", "version", "expired"],
)
@pytest.mark.parametrize("accepting", [False, True])
def test_a_bad_cookie_of_another_version_is_cleared(cookie: str, accepting: bool) -> None:
    app = make_app(policy=make_policy(accepts_versions=[NEW] if accepting else []))
    response = call(app, "GET", "/", headers={"cookie": f"cookiewall={cookie}"})
    assert any("max-age=0" in h.lower() for h in _consent_set_cookies(response))
    assert app.stats["bad_cookies"] == 1


def test_the_newest_valid_decision_counts_among_versions() -> None:
    """Two copies (a mount's and the root's, say): this version's decision counts even when
    another version's is newer; with that version accepted, the newer one counts."""
    now = int(time.time())
    own = _signed(_payload(VERSION, g=[], t=now - 100, r="own"))
    other = _signed(_payload(NEW, g=["analytics"], t=now - 10, r="other"))
    header = {"cookie": f"cookiewall={own}; cookiewall={other}"}
    for accepting, expected in ((False, "own"), (True, "other")):
        app = make_app(policy=make_policy(accepts_versions=[NEW] if accepting else []))
        response = call(app, "GET", "/state", headers=header)
        assert response.json()["receipt_id"] == expected
        assert not _consent_set_cookies(response)


# -- accepts_versions: the categories both name ------------------------------------------------


def _new_policy() -> Policy:
    """The new version: no `preferences`, a new `social` category."""
    return Policy(
        NEW,
        [
            Category("necessary", required=True),
            Category("analytics"),
            Category("marketing", gpc_opt_out=True),
            Category("social"),
        ],
    )


def test_an_accepted_decision_grants_only_the_categories_both_versions_name() -> None:
    new_codec = ConsentCodec(_new_policy(), SECRET)
    value, _ = new_codec.new_decision(new_codec.policy.category_names)  # "accept all" on v2
    old = ConsentCodec(make_policy(accepts_versions=[NEW]), SECRET)
    decision = old.verify(value)
    assert decision is not None
    consent = old.decided(decision, gpc=False)
    assert consent.decided
    assert consent.policy_version == NEW  # what the visitor consented to
    # `preferences` was never asked about: not pre-ticked. `social` is no category here.
    assert consent.granted == {"necessary", "analytics", "marketing"}
    assert not consent.allows("preferences")
    assert consent.summary == "custom"
    with pytest.raises(ValueError, match="not a category of this policy"):
        consent.allows("social")
    assert old.decided(decision, gpc=True).granted == {"necessary", "analytics"}


def test_an_accepted_reject_all_grants_the_required_categories() -> None:
    app = make_app(policy=make_policy(accepts_versions=[NEW]))
    state = _state(app, _signed(_payload(g=[])))
    assert state["decided"]
    assert state["granted"] == ["necessary"]
    assert state["summary"] == "none"


def test_this_versions_own_decisions_still_count_when_it_accepts_others() -> None:
    app = make_app(policy=make_policy(accepts_versions=[NEW]))
    state = _state(app, _signed(_payload(VERSION, g=["marketing"])))
    assert state["granted"] == ["marketing", "necessary"]
    assert _state(app, _signed(_payload("2025-01-01")))["decided"] is False  # not accepted


# -- key rotation: re-signed as it was, version included ------------------------------------------


@pytest.mark.parametrize("accepting", [False, True])
def test_resigning_keeps_the_payload_and_its_version(accepting: bool) -> None:
    payload = _payload(g=["analytics", "social"])  # `social`: a category of the new version
    app = make_app(
        policy=make_policy(accepts_versions=[NEW] if accepting else []),
        secret_key=[SECRET, OLDER_KEY],
    )
    response = call(
        app, "GET", "/", headers={"cookie": f"cookiewall={_signed(payload, OLDER_KEY)}"}
    )
    (header,) = _consent_set_cookies(response)
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert URLSafeSerializer(SECRET, salt=SALT).loads(value) == payload


# -- receipts pair with a decision this host does not count ----------------------------------------


def _receipts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("version", "seconds_ahead", "receipt", "linked"),
    [
        (NEW, -60, "otherVersion", True),  # another version
        (VERSION, 1200, "clockAhead", True),  # 20 min ahead
        (VERSION, 7200, "farAhead", False),  # bad: cleared
        (VERSION, -200 * 86400, "expired", False),
    ],
    ids=["other-version", "clock-ahead", "two-hours-ahead", "expired"],
)
@pytest.mark.parametrize("action", ["withdraw", "accept_all"])
def test_a_receipt_names_the_decision_the_cookie_holds_though_not_counted_here(
    tmp_path: Path, version: str, seconds_ahead: int, receipt: str, linked: bool, action: str
) -> None:
    # Dated when the test runs, not when it is collected: a suite that reaches this test 15
    # minutes after collecting it would see "20 minutes ahead" as within the clock skew.
    cookie = _payload(version, t=int(time.time()) + seconds_ahead, r=receipt)
    log = tmp_path / "receipts.jsonl"
    app = make_app(receipts=ReceiptLog(log))
    headers = {"cookie": f"cookiewall={_signed(cookie)}", "origin": "http://testserver"}
    if linked:  # not counted here, and not cleared (a bad one would be)
        assert _state(app, _signed(cookie))["decided"] is False
    response = call(app, "POST", "/consent", json={"action": action}, headers=headers)
    assert response.status_code == 200
    (written,) = _receipts(log)
    link = "withdraws" if action == "withdraw" else "replaces"
    assert written.get(link) == (receipt if linked else None)


# -- another version's lifetime is not this policy's --------------------------------------------

DAY = 86_400
SHORT = timedelta(days=30)  # this server's lifetime: a new version that shortened it, say


@pytest.mark.parametrize("accepting", [False, True])
def test_another_versions_decision_past_this_policys_lifetime_is_kept(accepting: bool) -> None:
    """60 days old: expired by this policy's 30 days, valid on the servers of its version
    (their 180). Not counted here, even when accepted (this policy says 30 days), but not
    cleared: cleared, that decision was lost on its own servers too."""
    policy = make_policy(consent_max_age=SHORT, accepts_versions=[NEW] if accepting else [])
    app = make_app(policy=policy)
    cookie = _signed(_payload(t=int(time.time()) - 60 * DAY))
    for _ in range(2):  # verified, then from the cache: the same answer
        response = call(app, "GET", "/", headers={"cookie": f"cookiewall={cookie}"})
        assert not _consent_set_cookies(response)
        assert _state(app, cookie)["decided"] is False
    assert app.stats["bad_cookies"] == 0


def test_this_versions_decision_past_its_lifetime_is_still_cleared() -> None:
    app = make_app(policy=make_policy(consent_max_age=SHORT))
    cookie = _signed(_payload(VERSION, t=int(time.time()) - 60 * DAY))
    response = call(app, "GET", "/", headers={"cookie": f"cookiewall={cookie}"})
    assert any("max-age=0" in h.lower() for h in _consent_set_cookies(response))
    assert app.stats["bad_cookies"] == 1


def test_resigning_another_versions_decision_past_this_lifetime_keeps_it_alive() -> None:
    """Key rotation: re-signed with what is left of the longest lifetime (its own is not known
    here), not with this policy's, which has run out (Max-Age=1: gone at once)."""
    decided_at = int(time.time()) - 60 * DAY
    payload = _payload(t=decided_at)
    app = make_app(policy=make_policy(consent_max_age=SHORT), secret_key=[SECRET, OLDER_KEY])
    response = call(
        app, "GET", "/", headers={"cookie": f"cookiewall={_signed(payload, OLDER_KEY)}"}
    )
    (header,) = _consent_set_cookies(response)
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert URLSafeSerializer(SECRET, salt=SALT).loads(value) == payload
    max_age = int(header.lower().split("max-age=", 1)[1].split(";", 1)[0])
    assert abs(max_age - (395 - 60) * DAY) <= 5


def test_resigning_within_this_lifetime_is_cut_to_it() -> None:
    """Control: within this policy's lifetime a re-signed cookie keeps what is left of it."""
    payload = _payload(t=int(time.time()) - 10 * DAY)
    app = make_app(
        policy=make_policy(consent_max_age=SHORT, accepts_versions=[NEW]),
        secret_key=[SECRET, OLDER_KEY],
    )
    response = call(
        app, "GET", "/", headers={"cookie": f"cookiewall={_signed(payload, OLDER_KEY)}"}
    )
    (header,) = _consent_set_cookies(response)
    max_age = int(header.lower().split("max-age=", 1)[1].split(";", 1)[0])
    assert abs(max_age - 20 * DAY) <= 5


def test_a_receipt_names_another_versions_decision_past_this_lifetime(tmp_path: Path) -> None:
    log = tmp_path / "receipts.jsonl"
    app = make_app(policy=make_policy(consent_max_age=SHORT), receipts=ReceiptLog(log))
    cookie = _signed(_payload(t=int(time.time()) - 60 * DAY, r="sixtyDaysOld"))
    headers = {"cookie": f"cookiewall={cookie}", "origin": "http://testserver"}
    assert _state(app, cookie)["decided"] is False
    response = call(app, "POST", "/consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == 200
    (receipt,) = _receipts(log)
    assert receipt["replaces"] == "sixtyDaysOld"


# -- the option ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (NEW, "must be a list of versions"),
        (None, "must be a list of versions"),
        ([VERSION], "the policy's own version"),
        ([""], "is not a version"),
        (["  "], "is not a version"),
        ([3], "is not a version"),
        ([NEW, NEW], "names '2026-12-24' twice"),
        ([f"v{n}" for n in range(MAX_ACCEPTED_VERSIONS + 1)], "more than 16 versions"),
    ],
)
def test_accepts_versions_is_checked(given: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_policy(accepts_versions=given)


def test_accepts_versions_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'version = "2026-11-28"\naccepts_versions = [2026-12-24, "r7"]\n'
        '[[categories]]\nname = "necessary"\nrequired = true\n'
    )
    policy = Policy.from_toml(path)
    assert policy.accepts_versions == (NEW, "r7")
    assert "accepts_versions=['2026-12-24', 'r7']" in repr(policy)
    assert date.fromisoformat(policy.accepts_versions[0])
    path.write_text('version = "1"\naccepts_versions = "2"\n[[categories]]\nname = "a"\n')
    with pytest.raises(ValueError, match=r"policy.toml: accepts_versions must be a list"):
        Policy.from_toml(path)
    assert "accepts_versions" not in repr(make_policy())
