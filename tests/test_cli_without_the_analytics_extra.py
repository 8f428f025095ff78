"""The `analytics` script in an install without the `analytics` extra (`pip install cookiewall`,
the consent gate alone): it is installed all the same, and ended in a bare
`ModuleNotFoundError: No module named 'pyarrow'` traceback. It says in one line which extra to
install, and exits 2; `--version` needs no extra.

The missing modules are made missing by an import blocker (a `sitecustomize` on PYTHONPATH
setting `sys.modules[name] = None`, which makes both `import` and `find_spec` fail as for an
absent package), run through the real console script and `python -m analytics`. A real
gate-only venv (the wheel and itsdangerous alone) was checked by hand the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.support import ROOT

SCRIPT = Path(sys.executable).with_name("analytics")
INSTALL = "pip install 'cookiewall[analytics]'"
# All of the extra's modules; the package's own import loads pyarrow (its recorder).
EXTRA = ("duckdb", "pyarrow", "publicsuffixlist", "ua_parser", "crawlerdetect", "tqdm")
# Those the package import does not load: the script itself can run without them.
NOT_IMPORTED_BY_THE_PACKAGE = ("duckdb", "tqdm")


def _run(
    tmp_path: Path, blocked: tuple[str, ...], argv: list[str], *, module: bool = False
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = [sys.executable, "-m", "analytics"] if module else [str(SCRIPT)]
    return subprocess.run(
        [*command, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def _assert_names_the_extra(result: subprocess.CompletedProcess[str], missing: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"analytics: error: analytics needs the 'analytics' extra (missing: {missing}): {INSTALL}"
    ]


@pytest.mark.parametrize("module", [False, True], ids=["script", "python -m"])
@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        [],
        ["rollup", "--spool", "var/spool", "--db", "var/analytics.duckdb"],
        ["report", "referrers", "--db", "var/analytics.duckdb"],
    ],
)
def test_a_missing_module_of_the_extra_is_named_in_one_line(
    tmp_path: Path, argv: list[str], module: bool
) -> None:
    result = _run(tmp_path, NOT_IMPORTED_BY_THE_PACKAGE, argv, module=module)
    _assert_names_the_extra(result, ", ".join(NOT_IMPORTED_BY_THE_PACKAGE))
    assert not (tmp_path / "var").exists()  # nothing was started


def test_one_found_missing_during_a_command_is_named_too(tmp_path: Path) -> None:
    # A module that vanished after the check at the start (or fails to import): the same
    # line, not a traceback.
    code = (
        "import sys; sys.modules['duckdb'] = None; import analytics.cli as cli; "
        "cli.missing_modules = lambda: []; "
        "sys.exit(cli.main(['report', 'referrers', '--db', 'var/analytics.duckdb']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _assert_names_the_extra(result, "duckdb")


def test_a_gate_only_install_is_told_which_extra_to_install(tmp_path: Path) -> None:
    _assert_names_the_extra(_run(tmp_path, EXTRA, ["--help"]), ", ".join(EXTRA))


def test_version_needs_no_extra(tmp_path: Path) -> None:
    expected = f"analytics (cookiewall) {metadata.version('cookiewall')}\n"
    for module in (False, True):
        result = _run(tmp_path, NOT_IMPORTED_BY_THE_PACKAGE, ["--version"], module=module)
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")
    result = _run(tmp_path, (), ["--version"])
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")
    assert metadata.version("cookiewall")[0].isdigit()
