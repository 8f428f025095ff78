"""`from analytics import Recorder` (and the other lazy names) in an install without the
`analytics` extra names every missing module the name needs, as the `analytics` script does,
not just the first one Python met: someone who installed just pyarrow then met the next one,
and the next. `from cookiewall import get_consent` without Starlette says what needs it and
how to install it, instead of a bare "No module named 'starlette'".

Missing modules are made missing by an import blocker (`sys.modules[name] = None` in a
`sitecustomize` on PYTHONPATH, which fails `import` and `find_spec` as an absent package
does), in a fresh Python process each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import _MODULES, _NEEDS
from analytics.extras import EXTRA_MODULES
from tests.support import ROOT

INSTALL = "pip install 'cookiewall[analytics]'"
RECORDER_NEEDS = "pyarrow, publicsuffixlist, ua_parser, crawlerdetect"
WAREHOUSE_NEEDS = "duckdb, pyarrow, tqdm"


def _python(
    tmp_path: Path, blocked: tuple[str, ...], code: str
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{site}:{ROOT}"},
        timeout=60,
        check=False,
    )


def _error_of(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("Recorder", RECORDER_NEEDS),
        ("RecorderStats", RECORDER_NEEDS),
        ("TrafficMiddleware", RECORDER_NEEDS),
        ("Warehouse", WAREHOUSE_NEEDS),
    ],
)
def test_a_gate_only_install_names_all_the_modules_a_name_needs(
    tmp_path: Path, name: str, needs: str
) -> None:
    result = _python(tmp_path, EXTRA_MODULES, f"from analytics import {name}")
    assert _error_of(result) == (
        f"ModuleNotFoundError: analytics.{name} needs the 'analytics' extra "
        f"(missing: {needs}): {INSTALL}"
    )


def test_only_the_modules_still_missing_are_named(tmp_path: Path) -> None:
    # pyarrow installed after the first message: the rest are still named, together.
    blocked = ("publicsuffixlist", "ua_parser", "crawlerdetect", "duckdb")
    result = _python(tmp_path, blocked, "from analytics import Recorder")
    assert _error_of(result) == (
        "ModuleNotFoundError: analytics.Recorder needs the 'analytics' extra "
        f"(missing: publicsuffixlist, ua_parser, crawlerdetect): {INSTALL}"
    )


def test_the_error_is_still_a_module_not_found_error_naming_the_first(tmp_path: Path) -> None:
    code = (
        "try:\n    from analytics import Recorder\n"
        "except ModuleNotFoundError as e:\n    print(e.name)\n"
    )
    result = _python(tmp_path, EXTRA_MODULES, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in EXTRA_MODULES


@pytest.mark.parametrize("home", sorted(set(_MODULES.values())))
def test_the_table_of_needs_is_what_each_module_really_imports(tmp_path: Path, home: str) -> None:
    code = (
        f"import sys, {home}\n"
        "from analytics.extras import EXTRA_MODULES\n"
        "print(' '.join(m for m in EXTRA_MODULES if m in sys.modules))\n"
    )
    result = _python(tmp_path, (), code)
    assert result.returncode == 0, result.stderr
    assert tuple(result.stdout.split()) == _NEEDS[home]


@pytest.mark.parametrize("name", ["get_consent", "get_gate"])
def test_get_consent_without_starlette_says_what_to_install(tmp_path: Path, name: str) -> None:
    result = _python(tmp_path, ("starlette",), f"from cookiewall import {name}")
    assert _error_of(result) == (
        f"ModuleNotFoundError: cookiewall.{name} needs Starlette (FastAPI brings it; the rest "
        "of cookiewall does not): pip install starlette"
    )
    # The gate itself still imports and works without it.
    ok = _python(tmp_path, ("starlette",), "from cookiewall import ConsentMiddleware, Policy")
    assert ok.returncode == 0, ok.stderr
