"""The TOML policy's mistakes: each is a ValueError that names the problem and the file, and
`gpc_last_update` must be a plain date that reaches gpc.json."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cookiewall import Category, ConsentMiddleware, Policy

KEY = "integration-review-3-key-0123456789"

# --- the TOML policy: every mistake a clear ValueError naming the problem and the file ----------

BASE_TOML = """\
version = "2026-11-28"

[[categories]]
name = "necessary"
required = true

[[categories]]
name = "analytics"
"""

RULE = '\n[[cookies]]\npattern = "_ga"\ncategory = "analytics"\n'


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        # typos in keys
        ("consent_max_age = 30\n", "", "unknown policy keys: consent_max_age"),
        ("", "gpc_optout = true\n", "unknown keys: gpc_optout"),
        ("", RULE + "categroy = 1\n", "unknown keys: categroy"),
        ("", '\n[texts.de]\ntitel = "x"\n', "texts.de: unknown keys titel"),
        ("", '\n[texts.de.labels]\nanalytic = "x"\n', "unknown categories analytic"),
        # wrong types
        ('consent_max_age_days = "30"\n', "", "consent_max_age_days must be an integer"),
        ("consent_max_age_days = 30.0\n", "", "consent_max_age_days must be an integer"),
        ("consent_max_age_days = 400\n", "", "between 1 and 395, not 400"),
        ("consent_max_age_days = 0\n", "", "between 1 and 395, not 0"),
        ('unknown_cookies = "deny"\n', "", "unknown_cookies must be 'block' or 'allow'"),
        ('gpc_last_update = "2026-01-01"\n', "", "gpc_last_update must be a date"),
        ('texts = "de"\n', "", "texts must map a language tag"),
        ("", 'consent_mode = "analytics_storage"\n', "consent_mode must be a list"),
        ("", 'consent_mode = ["analytics"]\n', "unknown consent_mode signal 'analytics'"),
        ("", 'required = "yes"\n', "required/gpc_opt_out must be booleans"),
        ("", "description = 5\n", "description must be a string"),
        ("", RULE + "purpose = 5\n", "purpose must be a string"),
        ("", RULE + "path = 5\n", "path 5 must start with '/'"),
        ("", RULE + 'path = "shop"\n', "path 'shop' must start with '/'"),
        ("", RULE + "domain = 5\n", "bad domain 5"),
        ("", RULE + 'partitioned = "yes"\n', "partitioned must be true or false"),
        ("", '\n[texts.de]\ntitle = 5\n', "texts.de.title must be a string"),
        ("", '\n[[cookies]]\npattern = 5\ncategory = "analytics"\n', "cookie pattern 5"),
        ("", '\n[[cookies]]\npattern = "a b"\ncategory = "analytics"\n', "cookie pattern 'a b'"),
        ("", '\n[[categories]]\nname = 5\n', "category name 5"),
        ("", '\n[[categories]]\ndescription = "no name"\n', "missing 1 required"),
        ("", '\n[[cookies]]\ncategory = "analytics"\n', "missing 1 required"),
        # missing or inconsistent categories
        ("", '\n[[cookies]]\npattern = "_ga"\ncategory = "analytic"\n',
         "unknown category 'analytic'"),
        ("", '\n[[categories]]\nname = "analytics"\n', "duplicate category name 'analytics'"),
        ("", RULE + RULE, "duplicate cookie rule '_ga'"),
        ("", '\n[[categories]]\nname = "x"\nrequired = true\ngpc_opt_out = true\n',
         "cannot be both required and gpc_opt_out"),
        ("", 'consent_mode = ["ad_storage"]\n[[categories]]\nname = "ads"\n'
         'consent_mode = ["ad_storage"]\n', "signal 'ad_storage' is listed by both"),
        ("", "\n[categories]\n", "not valid TOML"),
        ("", "x = \n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_toml_mistake_is_a_valueerror_that_names_it_and_the_file(
    tmp_path: Path, before: str, after: str, message: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(before + BASE_TOML + after)
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        Policy.from_toml(path)
    text = str(raised.value)
    assert text.startswith(f"{path}: ")
    assert "\n" not in text  # one line: fit for a log or a CLI's error output


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('version = "1"\n', "a policy needs at least one category"),
        ('[[categories]]\nname = "necessary"\n', "the policy needs a version"),
        ('version = "1"\n[categories]\nname = "x"\n', "categories must be an array of tables"),
        ('version = ""\n[[categories]]\nname = "x"\n', "version must be a non-empty string"),
        ('version = 3\n[[categories]]\nname = "x"\n', "version must be a non-empty string"),
    ],
)
def test_a_policy_without_its_essentials_is_refused(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match=re.escape(message)):
        Policy.from_toml(path)


@pytest.mark.parametrize("value", ['["analytics"]', "{ name = 'analytics' }"])
def test_a_rule_whose_category_is_a_list_or_table_is_a_valueerror(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BASE_TOML + f'\n[[cookies]]\npattern = "_ga"\ncategory = {value}\n')
    with pytest.raises(ValueError, match="_ga"):
        Policy.from_toml(path)


@pytest.mark.parametrize("value", [datetime(2026, 1, 1, 10, 0), "2026-01-01"])
def test_gpc_last_update_must_be_a_plain_date(value: Any) -> None:
    with pytest.raises(ValueError, match="gpc_last_update"):
        Policy("1", [Category("necessary", required=True)], gpc_last_update=value)


def test_gpc_last_update_from_toml_reaches_gpc_json(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("gpc_last_update = 2026-01-02\n" + BASE_TOML)
    policy = Policy.from_toml(path)
    assert policy.gpc_last_update == date(2026, 1, 2)

    async def fetch() -> dict[str, Any]:
        app = ConsentMiddleware(FastAPI(), policy=policy, secret_key=KEY)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answer: dict[str, Any] = (await c.get("/.well-known/gpc.json")).json()
            return answer

    assert asyncio.run(fetch()) == {"gpc": True, "lastUpdate": "2026-01-02"}
