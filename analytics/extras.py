"""Which of the `analytics` extra's dependencies are missing, and the one line that says so.

`pip install cookiewall` (the consent gate alone) installs this package and its `analytics`
script too, without the extra's DuckDB, PyArrow and parsers: a bare
`ModuleNotFoundError: No module named 'pyarrow'` traceback named neither the extra nor the
command that installs it. Standard library only: this module must import where they do not.
"""

from __future__ import annotations

from importlib.util import find_spec

INSTALL_EXTRA = "pip install 'cookiewall[analytics]'"
# The import names of pyproject.toml's `analytics` extra that the recorder, the warehouse and
# the reports load (starlette is the dashboard's alone; ua-parser-builtins is data that
# ua_parser loads itself).
EXTRA_MODULES = ("duckdb", "pyarrow", "publicsuffixlist", "ua_parser", "crawlerdetect", "tqdm")


def missing_modules() -> list[str]:
    """The extra's modules this Python cannot import, found without importing any (cheap)."""
    missing = []
    for name in EXTRA_MODULES:
        try:
            found = find_spec(name)
        except (ImportError, ValueError):  # a broken install: as good as missing
            found = None
        if found is None:
            missing.append(name)
    return missing


def needs_extra(what: str, missing: list[str]) -> str:
    """`what` needs the extra: one line naming the missing modules and the install command."""
    return f"{what} needs the 'analytics' extra (missing: {', '.join(missing)}): {INSTALL_EXTRA}"


def missing_extra_module(error: ModuleNotFoundError) -> str | None:
    """The extra's module whose absence raised `error`, None when it is another module."""
    top = (error.name or "").partition(".")[0]
    return top if top in EXTRA_MODULES else None
