"""The TOML policy shown in README → The policy is a policy `Policy.from_toml` loads, and it
says what its comments say: a reader without the checkout's examples/ copies it from there."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from cookiewall import Policy
from tests.support import ROOT


def _readme_block(language: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### The policy") : text.index("### Endpoints")]
    blocks: list[str] = re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)
    return blocks[0]  # the first


def _readme_toml() -> str:
    return _readme_block("toml")


def test_the_readme_toml_policy_loads_as_documented(tmp_path: Path) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(_readme_toml(), encoding="utf-8")
    policy = Policy.from_toml(path)
    assert policy.version == "2026-11-28"
    assert policy.consent_max_age == timedelta(days=180)
    assert [c.name for c in policy.categories] == [
        "necessary",
        "preferences",
        "analytics",
        "marketing",
    ]
    assert policy.required_names == frozenset({"necessary"})
    assert [rule.pattern for rule in policy.cookies] == ["session", "theme", "_ga*", "ad_id"]
    assert policy.cookies[2].domain == ".example.com"
    assert policy.accepts_versions == ()
    assert policy.texts["de"]["labels"] == {"analytics": "Statistik"}


def test_the_readme_toml_policy_is_the_python_one_above_it(tmp_path: Path) -> None:
    # "The same in TOML": the README's own FastAPI example asks allows("preferences"), which
    # raises for a policy without that category; with the TOML block it answered 500.
    path = tmp_path / "cookiewall.toml"
    path.write_text(_readme_toml(), encoding="utf-8")
    namespace: dict[str, object] = {}
    exec(_readme_block("python"), namespace)  # noqa: S102  # the README's own code
    python_policy = namespace["policy"]
    assert isinstance(python_policy, Policy)
    toml_policy = Policy.from_toml(path)
    assert repr(toml_policy) == repr(python_policy)
    assert toml_policy.categories == python_policy.categories
    assert toml_policy.cookies == python_policy.cookies
    assert toml_policy.texts == python_policy.texts
