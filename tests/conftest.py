"""Fixtures shared across modules: the real browser (Debian's Chromium through Playwright),
moto's S3 server with a bucket and a client on it, and a local Spark session.

A module's own fixture of the same name (several modules have a `server` of their own) takes
precedence over these, as pytest's fixture lookup goes from the module outwards."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.objectstore_support import (
    S3Server,
    client_with_bucket,
    new_bucket_name,
    running_s3_server,
    use_dummy_aws_settings,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_configure(config: pytest.Config) -> None:
    """Give the processes the tests start the default signal actions.

    An ignored signal stays ignored across fork and exec: under `nohup make test`, or a
    suite started in the background by a non-interactive shell (which ignores SIGINT and
    SIGQUIT for it), every `analytics` or server process a test starts would ignore SIGHUP or
    SIGINT, and the tests of what a stop signal does (exit 129/130, a run stopped at once)
    fail for a reason of the terminal's. A handler, unlike SIG_IGN, is reset to the default
    at exec; this one does nothing, so the test run itself still outlives a hang-up."""
    del config
    for signum in (signal.SIGHUP, signal.SIGINT):
        if signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, _ignored_here_only)


def _ignored_here_only(signum: int, frame: object) -> None:
    """A signal this process ignored when it started: ignored here, default in its children."""


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is open, and `asyncio.run` in any later test would then fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = None
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = f"Debian's chromium is not installed at {CHROMIUM} (make test installs it as root)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:  # pragma: no cover - dev extras always bring it
            reason = "the playwright package is not installed"
    if reason is not None:
        if os.environ.get("COOKIEWALL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests must run here (COOKIEWALL_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where browser tests leave screenshots for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Browser tests last: the slowest to start, and the other tests never share a loop with them.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_report_header(config: pytest.Config) -> str:
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    return f"browser: {found or 'chromium missing: browser tests will skip'}"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session (2 cores) for one test module; skips without pyspark or Java."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ on PATH")
    from analytics.spark import spark_session

    with spark_session("local[2]") as session:
        yield session


# -- object storage (helpers in tests/objectstore_support.py) -----------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy AWS credentials and nothing from the machine's own set-up. Not autouse here: each
    object-store module asks for it with `pytestmark = pytest.mark.usefixtures("aws_env")`."""
    use_dummy_aws_settings(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    """moto's S3 on 127.0.0.1, one per test module."""
    with running_s3_server() as s3:
        yield s3


@pytest.fixture
def bucket() -> str:
    return new_bucket_name()


@pytest.fixture
def client(aws_env: None, server: S3Server, bucket: str) -> Any:
    """A boto3 client for `server`, `bucket` created on it."""
    return client_with_bucket(server, bucket)
