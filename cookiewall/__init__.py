"""A privacy-first cookie-consent gate for ASGI applications."""

from __future__ import annotations
