"""Cookieless traffic analytics: a recorder that never stores an IP, a spool, a DuckDB warehouse."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from analytics.extras import missing_extra_module, missing_modules, needs_extra

if TYPE_CHECKING:
    from analytics.middleware import TrafficMiddleware
    from analytics.recorder import Recorder, RecorderStats
    from analytics.warehouse import Warehouse

__all__ = ["Recorder", "RecorderStats", "TrafficMiddleware", "Warehouse"]

# Each public name is imported on its first use. The package itself needs only the standard
# library, so in a gate-only install (`pip install cookiewall`, no `analytics` extra) the
# `analytics` script can say which extra to install, and `from analytics import Recorder`
# names it instead of ending in "No module named 'pyarrow'". Web workers that only record
# never load DuckDB (tens of MB): only Warehouse does.
_MODULES = {
    "Recorder": "analytics.recorder",
    "RecorderStats": "analytics.recorder",
    "TrafficMiddleware": "analytics.middleware",
    "Warehouse": "analytics.warehouse",
}
# The extra's modules each home imports (tests/test_lazy_names_list_every_missing_module.py
# checks them against a real import), so that a missing one is named with all the others
# that name needs: naming only the first sent the user back once per module.
_NEEDS = {
    "analytics.recorder": ("pyarrow", "publicsuffixlist", "ua_parser", "crawlerdetect"),
    "analytics.middleware": ("pyarrow", "publicsuffixlist", "ua_parser", "crawlerdetect"),
    "analytics.warehouse": ("duckdb", "pyarrow", "tqdm"),
}


def __getattr__(name: str) -> Any:
    home = _MODULES.get(name)
    if home is None:
        raise AttributeError(f"module 'analytics' has no attribute {name!r}")
    try:
        module = import_module(home)
    except ModuleNotFoundError as error:
        first = missing_extra_module(error)
        if first is None:
            raise
        needed = _NEEDS.get(home, ())
        missing = [module for module in missing_modules() if module in needed or module == first]
        if first not in missing:  # found, yet it failed to import: still the one to name
            missing.append(first)
        raise ModuleNotFoundError(
            needs_extra(f"analytics.{name}", missing), name=error.name
        ) from None
    value = getattr(module, name)
    globals()[name] = value  # later uses skip __getattr__
    return value


def __dir__() -> list[str]:
    # The lazy names are public too: dir() and IDE completion list them before the first use.
    return sorted(set(globals()) | set(__all__))
