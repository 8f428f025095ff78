"""Cookieless traffic analytics: a recorder that never stores an IP, a spool, a DuckDB warehouse."""

from __future__ import annotations

from analytics.middleware import TrafficMiddleware
from analytics.recorder import Recorder, RecorderStats

__all__ = ["Recorder", "RecorderStats", "TrafficMiddleware"]
