"""The public Python API as a careful user meets it: mypy --strict, dir(), help(), repr().

`tests/apps/typed_user_program.py` is a site written against every name the README shows,
as the README writes it. It must type-check under the user's `mypy --strict` (imported
packages' own errors silenced, as for an installed package) and run.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import starlette
from packaging.version import Version

import analytics
import analytics.errors
from analytics.objectstore import ObjectStoreError
from analytics.reports import ReportBusyError, ReportError
from analytics.spark import SparkRollupError
from analytics.spool import SpoolError
from cookiewall import Category, Consent, ConsentMiddleware, CookieRule, Policy, ReceiptLog
from cookiewall.dependencies import get_consent

ROOT = Path(__file__).resolve().parents[1]
USER_PROGRAM = ROOT / "tests" / "apps" / "typed_user_program.py"
SECRET = "a-secret-key-never-printed-0123"


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            # As for an installed package: errors inside cookiewall's own modules are not
            # the user's to see (our own mypy run checks those); the API they export is.
            "--follow-imports=silent",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            "--show-error-codes",
            str(path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One cache for the module's two runs: the second then reads Starlette's and ours.
    return tmp_path_factory.mktemp("mypy-cache")


def test_the_readme_user_program_passes_mypy_strict(mypy_cache: Path) -> None:
    result = _mypy(USER_PROGRAM, mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_user_program_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(USER_PROGRAM)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert result.returncode == 0, result.stderr
    assert "ingested 1 segment " in result.stdout


# Each line misuses the API; mypy must flag exactly those lines, which it can only do when
# the public signatures are precise (an `Any` return or a `**kwargs` would let them pass).
MISUSES = """\
from __future__ import annotations
from datetime import timedelta
from analytics import Recorder, TrafficMiddleware, Warehouse
from analytics.dashboard import dashboard
from analytics.export import export_table
from analytics.navigation import script_tag
from analytics.render import render
from analytics.reports import ReportQuery, run_report
from cookiewall import Category, Consent, ConsentMiddleware, CookieRule, Policy, ReceiptLog
from cookiewall import consent_mode, get_consent, get_gate
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request

def checks(request: Request, consent: Consent, policy: Policy) -> None:
    Recorder("var/spool", "example.com", sitee="x")  # error
    Recorder("var/spool", "example.com", flush_interval="10")  # error
    ConsentMiddleware(None, policy=policy, secret_key=keys)  # error
    ConsentMiddleware(request, policy=policy, secret_key=3)  # error
    Policy(version=1, categories=[])  # error
    Policy("1", [Category("a")], consent_max_age=180)  # error
    Category("a", consent_mode="ad_storage", requird=True)  # error
    CookieRule("_ga*")  # error
    ReceiptLog("r.jsonl", max_bytes="10MB")  # error
    Warehouse("a.duckdb", timezone=timedelta(hours=1))  # error
    n: str = consent.allows("analytics")  # error
    s: str = get_consent(request).granted  # error
    g: int = get_gate(request)  # error
    m: list[str] = consent_mode(policy, consent)  # error
    w: int = Warehouse("a.duckdb").today()  # error
    r: str = run_report("a.duckdb", ReportQuery(kind="pages"))  # error
    ReportQuery(knd="pages")  # error
    t: bytes = render(run_report("a.duckdb", ReportQuery()), "table")  # error
    e: str = export_table("a.duckdb", "events", "csv", "out.csv")  # error
    dashboard("a.duckdb", tokn="x" * 16)  # error
    script_tag(5)  # error
    TrafficMiddleware(request, recorder="var/spool")  # error
    Middleware(ConsentMiddleware, policy=policy, secret_key=keys, inject_banner=True)
    Starlette().add_middleware(TrafficMiddleware, recorder=Recorder("s", "x"))

keys = ["k" * 16]
"""

# The middleware's options given through Starlette, whose ParamSpec reads them from
# ConsentMiddleware's and TrafficMiddleware's signatures from starlette 0.41.3 on. Before, it
# read them from a Protocol's __init__, which mypy does not match a class against: any option
# passed, misspelt or mistyped (Starlette's typing: nothing in cookiewall can tighten it).
MIDDLEWARE_MISUSES = """\
from __future__ import annotations
from analytics import Recorder, TrafficMiddleware
from cookiewall import ConsentMiddleware, Policy
from starlette.applications import Starlette
from starlette.middleware import Middleware

def checks(policy: Policy) -> None:
    Middleware(ConsentMiddleware, policy=policy, secret_key=keys, inject_baner=True)  # error
    Middleware(TrafficMiddleware, recorder=Recorder("s", "x"), navigation_becon="/n")  # error
    Starlette().add_middleware(ConsentMiddleware, policy=policy, secret_key=[], honor_dt=1)  # error
    Starlette().add_middleware(TrafficMiddleware, recorder="var/spool")  # error
    Middleware(ConsentMiddleware, policy=policy, secret_key=keys, inject_banner=True)
    Starlette().add_middleware(TrafficMiddleware, recorder=Recorder("s", "x"))

keys = ["k" * 16]
"""


def _flagged_and_expected(
    source: str, program: Path, cache: Path
) -> tuple[set[int], set[int], str]:
    """mypy's flagged line numbers, the lines marked `# error`, and mypy's output."""
    program.write_text(source)
    expected = {
        number
        for number, line in enumerate(source.splitlines(), start=1)
        if line.endswith("# error")
    }
    result = _mypy(program, cache)
    flagged = {
        int(found)
        for found in re.findall(rf"^{re.escape(str(program))}:(\d+): error", result.stdout, re.M)
    }
    return flagged, expected, result.stdout


def test_mypy_catches_each_misuse_of_the_api(tmp_path: Path, mypy_cache: Path) -> None:
    flagged, expected, output = _flagged_and_expected(MISUSES, tmp_path / "misuses.py", mypy_cache)
    assert flagged == expected, output


@pytest.mark.skipif(
    Version(starlette.__version__) < Version("0.41.3"),
    reason=f"starlette {starlette.__version__}'s Middleware/add_middleware take any option "
    "(typed from a Protocol's __init__; 0.41.3 reads the middleware's own signature)",
)
def test_mypy_catches_each_misspelt_option_given_through_starlette(
    tmp_path: Path, mypy_cache: Path
) -> None:
    program = tmp_path / "middleware_misuses.py"
    flagged, expected, output = _flagged_and_expected(MIDDLEWARE_MISUSES, program, mypy_cache)
    assert flagged == expected, output


README_IMPORTS = [
    ("cookiewall", "Category"),
    ("cookiewall", "Consent"),
    ("cookiewall", "ConsentMiddleware"),
    ("cookiewall", "CookieRule"),
    ("cookiewall", "Policy"),
    ("cookiewall", "ReceiptLog"),
    ("cookiewall", "consent_from_scope"),
    ("cookiewall", "consent_mode"),
    ("cookiewall", "get_consent"),
    ("cookiewall", "get_gate"),
    ("analytics", "Recorder"),
    ("analytics", "RecorderStats"),
    ("analytics", "TrafficMiddleware"),
    ("analytics", "Warehouse"),
    ("analytics.dashboard", "dashboard"),
    ("analytics.render", "render"),
    ("analytics.navigation", "script_tag"),
    ("analytics.navigation", "SCRIPT_INTEGRITY"),
    ("analytics.errors", "AnalyticsError"),
    ("analytics.errors", "ExportError"),
    ("analytics.errors", "Interrupted"),
    ("analytics.errors", "WarehouseError"),
    ("analytics.errors", "WarehouseLockedError"),
    ("analytics.errors", "WarehouseMissingError"),
    ("analytics.errors", "WarehouseSchemaError"),
]


@pytest.mark.parametrize(("module", "name"), README_IMPORTS)
def test_each_name_the_readme_imports_is_in_its_module_all(module: str, name: str) -> None:
    exported = importlib.import_module(module).__all__
    assert name in exported


@pytest.mark.parametrize("module", ["cookiewall", "analytics", "analytics.errors"])
def test_all_lists_no_private_name_and_only_names_that_exist(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        assert not name.startswith("_"), name
        assert getattr(loaded, name) is not None


@pytest.mark.parametrize("module", ["cookiewall", "analytics"])
def test_dir_lists_every_public_name_before_its_first_use(module: str) -> None:
    # A fresh interpreter: the lazily imported names (get_consent, Warehouse) not yet loaded.
    script = (
        f"import {module}, sys\n"
        f"missing = sorted(set({module}.__all__) - set(dir({module})))\n"
        "assert 'duckdb' not in sys.modules, 'dir() must not load the warehouse'\n"
        "print(missing)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["cookiewall", "analytics"])
def test_star_import_gives_exactly_all(module: str) -> None:
    script = f"from {module} import *\nprint(sorted(n for n in dir() if not n.startswith('_')))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(sorted(importlib.import_module(module).__all__))


def _policy() -> Policy:
    return Policy(
        version="2026-11-28",
        categories=[
            Category("necessary", required=True),
            Category("analytics", consent_mode=["analytics_storage"]),
        ],
        cookies=[CookieRule("session", "necessary"), CookieRule("_ga*", "analytics")],
        consent_max_age=timedelta(days=30),
        texts={"de": {"title": "Cookies"}},
    )


def test_a_policy_repr_says_what_it_declares() -> None:
    shown = repr(_policy())
    for part in (
        "version='2026-11-28'",
        "categories=['necessary', 'analytics']",
        "required=['necessary']",
        "cookies=['session', '_ga*']",
        "unknown_cookies='block'",
        "consent_max_age=datetime.timedelta(days=30)",
        "texts=['de']",
    ):
        assert part in shown, shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Category("marketing", gpc_opt_out=True), "Category(name='marketing'"),
        (CookieRule("_ga*", "analytics", domain=".example.com"), "domain='.example.com'"),
    ],
)
def test_category_and_cookie_rule_reprs_show_their_fields(value: object, shown: str) -> None:
    assert shown in repr(value)


def test_a_receipt_log_repr_names_its_file_and_limits(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "receipts.jsonl", max_bytes=4096, backups=2)
    assert repr(log) == (
        f"<ReceiptLog path={str(tmp_path / 'receipts.jsonl')!r} max_bytes=4096 backups=2"
        " keep_for=None>"
    )


def test_a_consent_repr_leaves_out_what_joins_it_to_its_receipt() -> None:
    consent = Consent(
        decided=True,
        granted=frozenset({"necessary"}),
        categories=frozenset({"necessary", "analytics"}),
        policy_version="2026-11-28",
        receipt_id="Zm9vYmFyYmF6cXV4cXV1eA",
        decided_at=1_795_000_000,
    )
    shown = repr(consent)
    assert "Zm9vYmFyYmF6cXV4cXV1eA" not in shown
    assert "1795000000" not in shown
    assert "decided=True" in shown
    assert "policy_version='2026-11-28'" in shown
    # Left out of the repr only: still there, and still compared.
    assert consent.receipt_id == "Zm9vYmFyYmF6cXV4cXV1eA"
    assert consent != Consent(
        decided=True,
        granted=frozenset({"necessary"}),
        categories=frozenset({"necessary", "analytics"}),
        policy_version="2026-11-28",
        receipt_id="b3RoZXI",
        decided_at=1_795_000_000,
    )


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("not called")


@pytest.mark.parametrize("key", [SECRET, [SECRET, "an-older-key-0123456789"], SECRET.encode()])
def test_a_gate_repr_never_prints_its_secret_key(key: str | bytes | list[str]) -> None:
    gate = ConsentMiddleware(_app, policy=_policy(), secret_key=key)
    for shown in (repr(gate), str(gate), repr(gate.codec), repr(vars(gate).get("policy"))):
        assert "a-secret-key" not in shown
        assert "an-older-key" not in shown


def test_a_recorder_repr_prints_no_salt(tmp_path: Path) -> None:
    recorder = analytics.Recorder(tmp_path / "spool", site="example.com")
    try:
        recorder.flush()
        salts = [p.read_bytes() for p in (tmp_path / "spool" / "salts").glob("*") if p.is_file()]
        for shown in (repr(recorder), repr(recorder.stats)):
            for salt in salts:
                assert salt.hex() not in shown
                assert repr(salt) not in shown
    finally:
        recorder.close()


def _options(function: Callable[..., object]) -> tuple[str, ...]:
    skipped = {"self", "app", "cls"}
    return tuple(name for name in inspect.signature(function).parameters if name not in skipped)


DOCUMENTED = [
    pytest.param(Policy, _options(Policy.__init__), id="Policy"),
    pytest.param(Category, _options(Category.__init__), id="Category"),
    pytest.param(CookieRule, _options(CookieRule), id="CookieRule"),
    pytest.param(ReceiptLog, _options(ReceiptLog.__init__), id="ReceiptLog"),
    pytest.param(analytics.Warehouse, _options(analytics.Warehouse.__init__), id="Warehouse"),
    pytest.param(Consent, ("decided", "granted", "gpc", "receipt_id", "decided_at"), id="Consent"),
    pytest.param(get_consent, (), id="get_consent"),
    pytest.param(Policy.from_mapping, ("version", "categories", "cookies"), id="from_mapping"),
    # Owned by other helpers this session; the change is described in this session's report.
    pytest.param(
        ConsentMiddleware,
        _options(ConsentMiddleware.__init__),
        id="ConsentMiddleware",
    ),
    pytest.param(
        analytics.Recorder,
        _options(analytics.Recorder.__init__),
        id="Recorder",
    ),
    pytest.param(
        analytics.TrafficMiddleware,
        _options(analytics.TrafficMiddleware.__init__),
        id="TrafficMiddleware",
    ),
]


@pytest.mark.parametrize(("documented", "options"), DOCUMENTED)
def test_help_names_every_option_without_pointing_at_the_spec(
    documented: Callable[..., object], options: tuple[str, ...]
) -> None:
    # help() is what a user has: the SPEC is not shipped, and a dataclass's generated
    # docstring is only its signature again.
    doc = inspect.getdoc(documented) or ""
    assert doc, f"{documented.__qualname__} has no docstring"
    assert "SPEC" not in doc
    assert not doc.startswith(f"{documented.__name__}("), doc
    missing = [option for option in options if f"`{option}`" not in doc]
    assert missing == [], f"{documented.__qualname__}'s docstring does not explain {missing}"


PUBLIC_ERRORS = [
    analytics.errors.AnalyticsError,
    analytics.errors.WarehouseError,
    analytics.errors.WarehouseLockedError,
    analytics.errors.WarehouseMissingError,
    analytics.errors.WarehouseSchemaError,
    analytics.errors.Interrupted,
    analytics.errors.ExportError,
    ReportError,
    ReportBusyError,
    ObjectStoreError,
    SparkRollupError,
    SpoolError,
]


@pytest.mark.parametrize("error", PUBLIC_ERRORS)
def test_every_error_a_user_catches_is_an_analytics_error_with_a_docstring(
    error: type[Exception],
) -> None:
    assert issubclass(error, analytics.errors.AnalyticsError)
    assert error.__doc__
    assert error.__doc__ != Exception.__doc__
    assert error.__name__ in (analytics.errors.__doc__ or "") or error.__module__ == (
        "analytics.errors"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("version", "2026-12-01"),
        ("unknown_cookies", "allow"),
        ("consent_max_age", timedelta(days=1)),
        ("categories", ()),
        ("cookies", ()),
        ("texts", {}),
        ("required_names", frozenset()),
        ("_match_cache", {}),
    ],
)
def test_a_policy_is_immutable_as_its_docstring_says(name: str, value: object) -> None:
    policy = _policy()
    before = repr(policy)
    with pytest.raises(AttributeError, match=f"Policy is immutable: cannot set '{name}'"):
        setattr(policy, name, value)
    with pytest.raises(AttributeError, match=f"Policy is immutable: cannot delete '{name}'"):
        delattr(policy, name)
    assert repr(policy) == before
    assert policy.rule_for("_ga_1") == CookieRule("_ga*", "analytics")


@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, lambda policy: pickle.loads(pickle.dumps(policy))],  # noqa: S301
    ids=["copy", "deepcopy", "pickle"],
)
def test_an_immutable_policy_still_copies_and_pickles(
    duplicate: Callable[[Policy], Policy],
) -> None:
    # A spawned worker process gets the app, and its policy, pickled.
    policy = _policy()
    twin = duplicate(policy)
    assert repr(twin) == repr(policy)
    assert twin.rule_for("_ga_1") == CookieRule("_ga*", "analytics")
    with pytest.raises(AttributeError, match="Policy is immutable"):
        twin.version = "2"


class _CountingPolicy(Policy):
    __slots__ = ("lookups",)

    def __init__(self) -> None:
        template = _policy()
        super().__init__(template.version, template.categories, template.cookies)
        self.lookups = 0

    def rule_for(self, cookie_name: str) -> CookieRule | None:
        self.lookups += 1
        return super().rule_for(cookie_name)


def test_a_policy_subclass_keeps_its_own_attributes_settable() -> None:
    counting = _CountingPolicy()
    assert counting.rule_for("session") == CookieRule("session", "necessary")
    assert counting.lookups == 1
    del counting.lookups
    with pytest.raises(AttributeError, match="Policy is immutable: cannot set 'version'"):
        counting.version = "2"
