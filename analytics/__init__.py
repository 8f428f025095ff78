"""Cookieless traffic analytics: a recorder that never stores an IP, a spool, a DuckDB warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analytics.middleware import TrafficMiddleware
from analytics.recorder import Recorder, RecorderStats

if TYPE_CHECKING:
    from analytics.warehouse import Warehouse

__all__ = ["Recorder", "RecorderStats", "TrafficMiddleware", "Warehouse"]


def __getattr__(name: str) -> Any:
    # The warehouse pulls in DuckDB (tens of MB): web workers that only record never load it.
    if name == "Warehouse":
        from analytics.warehouse import Warehouse

        return Warehouse
    raise AttributeError(f"module 'analytics' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Warehouse is public too: dir() and IDE completion list it before the first use.
    return sorted(set(globals()) | set(__all__))
