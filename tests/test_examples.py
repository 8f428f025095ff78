"""The examples run as documented: the demo end to end, the Starlette and FastAPI apps."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cookiewall import ConsentMiddleware, Policy
from tests.support import ROOT

ORIGIN = "http://testserver"


def test_demo_runs_end_to_end_and_writes_the_report(tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.demo",
            "--var",
            str(var),
            "--weeks",
            "3",
            "--visitors",
            "16",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Referrer trends" in out
    assert "Sources" in out
    assert "demo: done." in out
    report = var / "report.html"
    assert "<svg" in report.read_text()
    assert (var / "analytics.duckdb").stat().st_size > 0
    receipts = (var / "receipts.jsonl").read_text().splitlines()
    assert receipts, "visitors who decided leave receipts"
    assert all(set(json.loads(line)) >= {"id", "time", "action"} for line in receipts)
    # The simulated client addresses and the credentials in one referrer never reach output.
    for secret in ("203.0.113.", "2001:db8::", "user:secret"):
        assert secret not in out
        assert secret not in result.stderr


def _client(app: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)


@pytest.mark.parametrize("choice", ["accept_all", "reject_all"])
def test_fastapi_preferences_set_cookies_only_when_allowed(
    choice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOKIEWALL_VAR", str(tmp_path))
    sys.modules.pop("examples.fastapi_app", None)
    from examples.fastapi_app import app

    async def scenario() -> tuple[set[str], str]:
        async with _client(app) as client:
            decided = await client.post(
                "/consent", json={"action": choice}, headers={"Origin": ORIGIN}
            )
            assert decided.status_code == 200
            saved = await client.post(
                "/preferences", data={"theme": "dark", "lang": "de"}, follow_redirects=False
            )
            assert saved.status_code == 303
            names = {header.split("=", 1)[0] for header in saved.headers.get_list("set-cookie")}
            page = await client.get("/")
            return names, page.text

    names, home = asyncio.run(scenario())
    if choice == "accept_all":
        assert names >= {"theme", "lang"}
        assert "preferences" in home
    else:
        assert not names & {"theme", "lang"}


def test_starlette_example_drops_forbidden_cookies_for_undecided_visitors(tmp_path: Path) -> None:
    from examples.starlette_app import create_app

    app = create_app(tmp_path, secret_key="example-test-key")

    async def scenario() -> httpx.Response:
        async with _client(app) as client:
            return await client.get("/pricing")

    response = asyncio.run(scenario())
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == []
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert 'role="region"' in response.text  # the banner was injected


def test_public_imports_are_the_documented_ones() -> None:
    code = (
        "import sys, analytics; assert 'duckdb' not in sys.modules; "
        "from analytics import Recorder, TrafficMiddleware, Warehouse; "
        "from analytics.dashboard import dashboard; "
        "from cookiewall import Policy, Category, CookieRule, ConsentMiddleware, ReceiptLog"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


EXAMPLE_TOML = ROOT / "examples" / "cookiewall.toml"

KEY = "integration-review-3-key-0123456789"

# --- the examples the README points to -------------------------------------------------------


def test_the_example_toml_is_the_example_apps_policy() -> None:
    # The README offers examples/cookiewall.toml as the policy for code like the examples':
    # every cookie the example apps set must be declared there, in the same category.
    from examples.starlette_app import POLICY

    toml = Policy.from_toml(EXAMPLE_TOML)
    assert {r.pattern: r.category for r in toml.cookies} == {
        r.pattern: r.category for r in POLICY.cookies
    }
    assert [(c.name, c.required, c.gpc_opt_out, c.consent_mode) for c in toml.categories] == [
        (c.name, c.required, c.gpc_opt_out, c.consent_mode) for c in POLICY.categories
    ]
    assert toml.consent_max_age == POLICY.consent_max_age
    assert toml.version == POLICY.version
    assert set(toml.texts) == {"en", "de"}


def test_the_fastapi_example_with_the_toml_policy_sets_theme_and_lang_once_allowed() -> None:
    from examples import fastapi_app

    async def scenario() -> set[str]:
        # The example's routes, behind a gate that reads the example TOML.
        app = FastAPI()
        app.include_router(fastapi_app.app.router)
        app.add_middleware(ConsentMiddleware, policy=Policy.from_toml(EXAMPLE_TOML), secret_key=KEY)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await c.post("/consent", json={"action": "save", "categories": ["preferences"]})
            answer = await c.post("/preferences", data={"theme": "dark", "lang": "de"})
        return {value.split("=", 1)[0] for value in answer.headers.get_list("set-cookie")}

    assert asyncio.run(scenario()) == {"theme", "lang"}


def test_a_failing_analytics_step_of_the_demo_is_one_line_not_a_traceback() -> None:
    from examples import demo

    with pytest.raises(SystemExit) as stopped:
        demo.analytics_cli("rollup", "--no-such-option")
    assert stopped.value.code != 0
    assert str(stopped.value.code).startswith("demo: `python -m analytics rollup")
    assert "\n" not in str(stopped.value.code)
