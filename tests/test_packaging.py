"""The package as a user installs it: the built wheel, not this checkout.

Tests import the checkout, so a template, stylesheet, SQL file or data list missing from the
wheel would pass every other test and break every installed copy. This builds the wheel
(no network: the venv's setuptools), checks it carries every file the packages ship, and runs
the product from the unpacked wheel in a folder where the checkout cannot be imported.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("cookiewall", "analytics")


def _shipped_files() -> set[str]:
    """Every file git tracks inside the packages, as wheel paths."""
    listed = subprocess.run(
        ["git", "ls-files", "--", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {name for name in listed if not name.endswith((".pyc", ".gitignore"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to know which files the packages ship")
    source = tmp_path_factory.mktemp("source")
    # A copy of the tracked files only: building in place would litter the checkout, and a
    # stray untracked file must not make the wheel look complete.
    for name in [*_shipped_files(), "pyproject.toml", "README.md", "LICENSE"]:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    # Deprecated metadata keeps building until the day setuptools drops it: fail now instead.
    assert "deprecated" not in built.stderr.lower(), built.stderr[-2000:]
    (wheel_file,) = out.glob("cookiewall-*.whl")
    return wheel_file


def test_the_wheel_carries_every_file_the_packages_ship(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = sorted(_shipped_files() - names)
    assert not missing, f"not in the wheel: {missing}"
    # And nothing from outside the packages (tests, examples, bench) rides along.
    outside = sorted(
        n for n in names if not n.startswith((*(f"{p}/" for p in PACKAGES), "cookiewall-"))
    )
    assert not outside


def test_the_wheel_metadata_states_license_dependencies_and_the_cli(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        dist_info = next(n.split("/")[0] for n in archive.namelist() if ".dist-info/" in n)
        metadata = email.parser.Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        licenses = [n for n in archive.namelist() if n.startswith(f"{dist_info}/licenses/")]
    assert metadata["License-Expression"] == "MIT"
    assert licenses, "the LICENSE file is not in the wheel"
    requires = metadata.get_all("Requires-Dist") or []
    # The gate alone needs only itsdangerous; everything else is behind an extra.
    assert [r for r in requires if "extra ==" not in r] == ["itsdangerous>=2.1"]
    assert {"analytics", "s3", "spark", "dev"} <= set(metadata.get_all("Provides-Extra") or [])
    assert "analytics = analytics.cli:console_main" in entry_points


# Runs from the unpacked wheel: reads the banner's template, stylesheet and script, serves the
# consent endpoints, records through the spam list and the Public Suffix List, writes a
# segment, and rolls it up with the shipped SQL, then reports.
_SMOKE = textwrap.dedent(
    """
    import asyncio, json, pathlib, sys
    import analytics, cookiewall
    unpacked = pathlib.Path(sys.argv[1]).resolve()
    for module in (cookiewall, analytics):
        assert pathlib.Path(module.__file__).resolve().is_relative_to(unpacked), module.__file__

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from analytics import Recorder, TrafficMiddleware, Warehouse
    from cookiewall import Category, ConsentMiddleware, Policy

    async def page(request):
        return HTMLResponse("<html><body><p>hi</p></body></html>")

    work = pathlib.Path(sys.argv[2])
    recorder = Recorder(spool_dir=work / "spool", site="example.com")
    policy = Policy(version="1", categories=[Category("necessary", required=True),
                                             Category("analytics")])
    app = ConsentMiddleware(TrafficMiddleware(Starlette(routes=[Route("/", page)]),
                                              recorder=recorder),
                            policy=policy, secret_key="k" * 32, inject_banner=True)

    async def visit():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                       "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}
            home = await c.get("/", headers={**browser, "referer": "https://news.ycombinator.com/x"})
            assert home.status_code == 200 and "cookiewall" in home.text, home.text
            for asset in ("/consent/static/banner.css", "/consent/static/banner.js"):
                assert (await c.get(asset)).status_code == 200, asset
            spam = await c.get("/", headers={**browser, "referer": "https://semalt.com/"})
            assert spam.status_code == 200
    asyncio.run(visit())
    assert recorder.flush() == 1
    recorder.close()
    Warehouse(str(work / "a.duckdb")).run(str(work / "spool"))
    import duckdb
    with duckdb.connect(str(work / "a.duckdb"), read_only=True) as db:
        print(json.dumps(db.execute(
            "SELECT referrer_domain, referrer_medium, pageviews FROM daily_referrers").fetchall()))
    """
)


def test_the_unpacked_wheel_runs_the_gate_the_recorder_and_the_rollup(
    wheel: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)  # noqa: S202 (the wheel this test built)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    smoke = subprocess.run(
        [sys.executable, "-c", _SMOKE, str(unpacked), str(work)],
        cwd=work,  # not the checkout: `import cookiewall` must find the wheel's copy
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert smoke.stdout.strip() == '[["ycombinator.com", "social", 1]]'
    cli = subprocess.run(
        [sys.executable, "-m", "analytics", "report", "summary", "--db", str(work / "a.duckdb")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "pageviews" in cli.stdout.lower()


def test_the_sdist_carries_the_whole_project_and_its_tests_run_from_it(tmp_path: Path) -> None:
    """An sdist is what distributions (Debian, conda-forge) build and test from. Without
    MANIFEST.in setuptools put tests/test_*.py in it but not conftest.py, tests/support.py,
    tests/apps or examples/, so not one test could import."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to know which files the project tracks")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    source = tmp_path / "source"
    for name in tracked:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = tmp_path / "sdist"
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(out),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (sdist,) = out.glob("cookiewall-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
        archive.extractall(tmp_path / "unpacked", filter="data")
    # Everything git tracks, except the CI script and git's own file, is in it.
    missing = sorted(set(tracked) - names - {".gitignore", ".ci/run"})
    assert not missing, f"not in the sdist: {missing}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    (root,) = (tmp_path / "unpacked").iterdir()
    # A test that needs conftest.py, tests/support.py and examples/: it runs from the sdist,
    # importing the sdist's own packages (cwd first on sys.path), not this checkout.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_examples.py",
            "-k",
            "toml or starlette_example",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "3 passed" in run.stdout, run.stdout[-3000:]
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import cookiewall, analytics; print(cookiewall.__file__); print(analytics.__file__)",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(w).resolve().is_relative_to(root.resolve()) for w in where), where
