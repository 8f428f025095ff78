"""Google Consent Mode v2: the policy's signal mapping, the per-visitor defaults script, and
the signals in the consent state (what the banner script hands to `gtag("consent", "update")`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cookiewall import Category, Policy, consent_mode
from cookiewall.consent import Consent
from cookiewall.policy import CONSENT_MODE_SIGNALS
from tests.test_cookiewall_support import (
    call,
    decide,
    make_app,
    make_policy,
    receipt_of,
    with_a_wrong_signature,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cookiewall.toml"
SCRIPT = "/consent/consent-mode.js"
MARKETING = ("ad_storage", "ad_user_data", "ad_personalization")
PREFERENCES = ("functionality_storage", "personalization_storage")


def mapped_categories() -> list[Category]:
    return [
        Category("necessary", required=True, consent_mode=["security_storage"]),
        Category("preferences", consent_mode=list(PREFERENCES)),
        Category("analytics", consent_mode=["analytics_storage"]),
        Category("marketing", gpc_opt_out=True, consent_mode=list(MARKETING)),
    ]


def mapped_app(**options: Any) -> Any:
    return make_app(policy=make_policy(categories=mapped_categories()), **options)


def defaults_of(script: str) -> dict[str, str]:
    """The object passed to gtag("consent", "default", ...) in the served script."""
    match = re.search(r'gtag\("consent", "default", (\{.*?\})\);', script)
    assert match, script
    found: dict[str, str] = json.loads(match.group(1))
    return found


def expected(granted: set[str]) -> dict[str, str]:
    owner = {s: c.name for c in mapped_categories() for s in c.consent_mode}
    return {s: "granted" if owner[s] in granted else "denied" for s in CONSENT_MODE_SIGNALS}


# -- the policy ---------------------------------------------------------------------------


def test_a_category_lists_its_signals_as_an_immutable_tuple_without_repeats() -> None:
    category = Category("ads", consent_mode=["ad_storage", "ad_user_data", "ad_storage"])
    assert category.consent_mode == ("ad_storage", "ad_user_data")
    hash(category)  # still hashable, like every other category
    assert Category("plain").consent_mode == ()


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        (["ad_storag"], "unknown consent_mode signal 'ad_storag'"),
        (["AD_STORAGE"], "unknown consent_mode signal"),
        ("ad_storage", "must be a list of signal names"),
        ([1], "unknown consent_mode signal 1"),
        ({"ad_storage": True}, "must be a list of signal names"),
    ],
)
def test_bad_signal_lists_are_refused_with_a_clear_message(signals: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Category("ads", consent_mode=signals)


def test_a_signal_follows_one_category_only() -> None:
    with pytest.raises(ValueError, match="'ad_storage' is listed by both 'ads' and 'more_ads'"):
        Policy(
            "1",
            [
                Category("ads", consent_mode=["ad_storage"]),
                Category("more_ads", consent_mode=["ad_user_data", "ad_storage"]),
            ],
        )


def test_the_policy_keeps_signals_in_googles_order() -> None:
    policy = make_policy(categories=mapped_categories())
    assert [signal for signal, _ in policy.consent_mode] == list(CONSENT_MODE_SIGNALS)
    assert dict(policy.consent_mode)["analytics_storage"] == "analytics"
    assert make_policy().consent_mode == ()


def test_the_example_toml_maps_every_signal(tmp_path: Path) -> None:
    policy = Policy.from_toml(EXAMPLE)
    assert {signal for signal, _ in policy.consent_mode} == set(CONSENT_MODE_SIGNALS)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'version = "1"\n[[categories]]\nname = "ads"\nconsent_mode = ["ad_storage", "nope"]\n'
    )
    with pytest.raises(ValueError, match=r"bad\.toml: category 'ads': unknown consent_mode"):
        Policy.from_toml(bad)


# -- the signals ----------------------------------------------------------------------------


def _consent(granted: set[str], *, decided: bool = True, gpc: bool = False) -> Consent:
    names = frozenset({"necessary", "preferences", "analytics", "marketing"})
    return Consent(
        decided=decided,
        granted=frozenset(granted),
        categories=names,
        required=frozenset({"necessary"}),
        gpc=gpc,
    )


@pytest.mark.parametrize(
    "granted",
    [
        {"necessary"},
        {"necessary", "analytics"},
        {"necessary", "preferences", "marketing"},
        {"necessary", "preferences", "analytics", "marketing"},
    ],
)
def test_each_signal_is_granted_exactly_when_its_category_is(granted: set[str]) -> None:
    policy = make_policy(categories=mapped_categories())
    assert consent_mode(policy, _consent(granted)) == expected(granted)


def test_a_policy_without_a_mapping_has_no_signals() -> None:
    assert consent_mode(make_policy(), _consent({"necessary", "analytics"})) == {}


# -- the defaults script, over HTTP -----------------------------------------------------------


def test_a_new_visitor_gets_every_optional_signal_denied() -> None:
    response = call(mapped_app(), "GET", SCRIPT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    # Per visitor: no shared cache may keep it, and it differs by cookie and GPC.
    assert response.headers["cache-control"] == "private, no-store"
    assert {"Cookie", "Sec-GPC"} <= {v.strip() for v in response.headers["vary"].split(",")}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert defaults_of(response.text) == expected({"necessary"})
    # The stub gtag.js itself reads: it pushes `arguments`, and keeps a page's own gtag.
    assert "window.gtag = window.gtag || function () { window.dataLayer.push(arguments); };" in (
        response.text
    )
    assert 'gtag("set", "ads_data_redaction", true);' in response.text


@pytest.mark.parametrize(
    ("action", "categories", "granted"),
    [
        ("accept_all", (), {"necessary", "preferences", "analytics", "marketing"}),
        ("reject_all", (), {"necessary"}),
        ("save", ("analytics",), {"necessary", "analytics"}),
    ],
)
def test_a_returning_visitor_gets_their_choice(
    action: str, categories: tuple[str, ...], granted: set[str]
) -> None:
    app = mapped_app()
    cookie = decide(app, action, categories)
    response = call(app, "GET", SCRIPT, headers={"cookie": f"cookiewall={cookie}"})
    assert defaults_of(response.text) == expected(granted)
    # Ad data is redacted exactly while ad storage is denied.
    assert ('"ads_data_redaction", true' in response.text) == ("marketing" not in granted)
    # Nothing about the visitor beyond the choice: not the receipt id, not the cookie.
    assert receipt_of(cookie) not in response.text
    assert cookie not in response.text


def test_gpc_denies_the_opted_out_signals_even_after_accept_all() -> None:
    app = mapped_app()
    cookie = decide(app, "accept_all")
    response = call(app, "GET", SCRIPT, headers={"cookie": f"cookiewall={cookie}", "sec-gpc": "1"})
    signals = defaults_of(response.text)
    assert {signals[s] for s in MARKETING} == {"denied"}
    assert signals["analytics_storage"] == "granted"


@pytest.mark.parametrize(
    "cookie",
    [
        "cookiewall=tampered.value",
        "cookiewall=",
        'cookiewall="\\x00\\xff"',
        "cookiewall=" + "A" * 5000,
    ],
)
def test_a_bad_cookie_gets_the_undecided_defaults_never_an_error(cookie: str) -> None:
    app = mapped_app()
    good = decide(app, "accept_all")
    tampered = cookie.replace("tampered.value", with_a_wrong_signature(good))
    response = call(app, "GET", SCRIPT, headers={"cookie": tampered})
    assert response.status_code == 200
    assert defaults_of(response.text) == expected({"necessary"})


def test_head_answers_and_other_methods_are_refused() -> None:
    app = mapped_app()
    assert call(app, "HEAD", SCRIPT).status_code == 200
    response = call(app, "POST", SCRIPT)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_without_a_mapping_there_is_no_script_and_no_signals_in_the_state() -> None:
    app = make_app()
    assert call(app, "GET", SCRIPT).status_code == 404  # the app's own 404
    assert "consent_mode" not in call(app, "GET", "/consent").json()


def test_the_consent_state_carries_the_signals_for_the_banners_update() -> None:
    app = mapped_app()
    response = call(app, "POST", "/consent", json={"action": "save", "categories": ["preferences"]})
    assert response.json()["consent_mode"] == expected({"necessary", "preferences"})


def test_the_declaration_lists_each_categorys_signals() -> None:
    body = call(mapped_app(), "GET", "/consent/cookies").json()
    signals = {c["name"]: c["consent_mode"] for c in body["categories"]}
    assert signals["marketing"] == list(MARKETING)
    assert signals["necessary"] == ["security_storage"]


def test_under_a_mount_the_script_is_below_the_root_path() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/shop", app=mapped_app())])
    response = call(outer, "GET", "/shop" + SCRIPT)
    assert response.status_code == 200
    assert defaults_of(response.text) == expected({"necessary"})
