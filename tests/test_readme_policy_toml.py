"""The TOML policy shown in README → The policy is a policy `Policy.from_toml` loads, and it
says what its comments say: a reader without the checkout's examples/ copies it from there."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from cookiewall import Policy
from tests.support import ROOT


def _readme_toml() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### The policy") : text.index("### Endpoints")]
    (block,) = re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    return block


def test_the_readme_toml_policy_loads_as_documented(tmp_path: Path) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(_readme_toml(), encoding="utf-8")
    policy = Policy.from_toml(path)
    assert policy.version == "2026-11-28"
    assert policy.consent_max_age == timedelta(days=180)
    assert [c.name for c in policy.categories] == ["necessary", "analytics", "marketing"]
    assert policy.required_names == frozenset({"necessary"})
    assert [rule.pattern for rule in policy.cookies] == ["session", "_ga*"]
    assert policy.cookies[1].domain == ".example.com"
    assert policy.accepts_versions == ()
    assert policy.texts["de"]["labels"] == {"analytics": "Statistik"}
