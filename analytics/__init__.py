"""Cookieless traffic analytics: a recorder that never stores an IP, a spool, a DuckDB warehouse."""

from __future__ import annotations
