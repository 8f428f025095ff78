"""A live analytics dashboard and JSON API over the warehouse, mounted in the site's app."""

from __future__ import annotations

from analytics.dashboard.app import dashboard

__all__ = ["dashboard"]
