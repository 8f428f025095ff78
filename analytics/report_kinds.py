"""The report kinds: one list for the report queries and the command line.

A module of its own, with no imports, because the CLI names the kinds in `analytics report
--help`, and importing `analytics.reports` (DuckDB) for that would make every command, and a
gate-only install without DuckDB, pay for it.
"""

from __future__ import annotations

KINDS = (
    "referrers",
    "sources",
    "pages",
    "campaigns",
    "devices",
    "consent",
    "summary",
    "trends",
)
