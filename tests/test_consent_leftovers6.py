"""Leftovers of the session 6 consent review: a receipt's time is its cookie's decision time,
language tags differing only in case are one language, and the cookie declaration states a
consent lifetime under a day truthfully."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cookiewall import Category, Policy, ReceiptLog
from tests.test_cookiewall_support import call, consent_cookie, make_app, make_policy

# -- 1. one instant for the receipt and the cookie ------------------------------------------


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


# -- 2. language tags are case-insensitive ---------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("de", "DE"),
        ("DE", "de"),
        ("pt-BR", "pt-br"),
        ("pt-br", "PT-BR"),
        ("zh-Hant-TW", "zh-hant-tw"),
        ("En", "en"),
    ],
)
def test_texts_for_one_language_in_two_cases_are_a_value_error(first: str, second: str) -> None:
    texts = {first: {"title": "Eins"}, second: {"title": "Zwei"}}
    with pytest.raises(ValueError, match="case") as caught:
        make_policy(texts=texts)
    assert repr(first) in str(caught.value)
    assert repr(second) in str(caught.value)


@pytest.mark.parametrize(
    "languages",
    [("de", "de-ch"), ("pt", "pt-BR", "pt-PT"), ("DE",), ("zh-Hant", "zh-Hans"), ("en", "fr")],
)
def test_distinct_languages_are_still_taken(languages: tuple[str, ...]) -> None:
    policy = make_policy(texts={language: {"title": language} for language in languages})
    assert sorted(policy.texts) == sorted(language.lower() for language in languages)
    for language in languages:
        assert policy.texts[language.lower()]["title"] == language


def test_a_toml_policy_with_one_language_twice_names_the_file_and_both_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(
        'version = "1"\n[[categories]]\nname = "necessary"\nrequired = true\n'
        '[texts.de]\ntitle = "Cookies"\n[texts.DE]\ntitle = "Kekse"\n'
    )
    with pytest.raises(ValueError, match=r"'de'.*'DE'") as caught:
        Policy.from_toml(path)
    assert str(path) in str(caught.value)


# -- 3. the declaration's lifetime under a day -----------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "days", "seconds"),
    [
        (timedelta(days=180), 180, 15_552_000),
        (timedelta(days=395), 395, 34_128_000),
        (timedelta(days=1), 1, 86_400),
        (timedelta(hours=12), 0.5, 43_200),
        (timedelta(hours=1), 0.05, 3_600),  # 0.0417 days, rounded up: never understated
        (timedelta(minutes=30), 0.03, 1_800),
        (timedelta(seconds=1), 0.01, 1),
        (timedelta(days=1, hours=12), 1.5, 129_600),
        (timedelta(days=30, seconds=1), 30.01, 2_592_001),
    ],
)
def test_the_declaration_states_the_consent_lifetime_truthfully(
    lifetime: timedelta, days: float, seconds: int
) -> None:
    app = make_app(policy=make_policy(consent_max_age=lifetime))
    declared = call(app, "GET", "/consent/cookies").json()["consent_cookie"]
    assert declared["max_age_days"] == days
    assert declared["max_age_days"] > 0
    assert declared["max_age_seconds"] == seconds
    # What the declaration says is what the browser is told.
    decision = call(app, "POST", "/consent", json=_ACCEPT)
    assert f"Max-Age={seconds};" in decision.headers["set-cookie"] + ";"


def test_whole_days_stay_an_integer_for_existing_readers() -> None:
    body = call(make_app(), "GET", "/consent/cookies").text
    assert '"max_age_days": 180,' in body


def test_a_declaration_without_a_required_category_still_states_the_lifetime() -> None:
    policy = make_policy(
        categories=[Category("analytics")], cookies=[], consent_max_age=timedelta(hours=6)
    )
    declared = call(make_app(policy=policy), "GET", "/consent/cookies").json()["consent_cookie"]
    assert (declared["max_age_days"], declared["max_age_seconds"]) == (0.25, 21_600)
