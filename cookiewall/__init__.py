"""A privacy-first cookie-consent gate for ASGI applications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cookiewall.consent import Consent
from cookiewall.consentmode import consent_mode
from cookiewall.middleware import ConsentMiddleware
from cookiewall.policy import Category, CookieRule, Policy
from cookiewall.receipts import ReceiptLog
from cookiewall.scoped import consent_from_scope

if TYPE_CHECKING:
    from cookiewall.dependencies import get_consent, get_gate

__all__ = [
    "Category",
    "Consent",
    "ConsentMiddleware",
    "CookieRule",
    "Policy",
    "ReceiptLog",
    "consent_from_scope",
    "consent_mode",
    "get_consent",
    "get_gate",
]


def __getattr__(name: str) -> Any:
    # get_consent and get_gate need Starlette's HTTPConnection: imported only when asked for.
    if name in ("get_consent", "get_gate"):
        try:
            from cookiewall import dependencies
        except ModuleNotFoundError as error:
            if (error.name or "").partition(".")[0] != "starlette":
                raise
            # A bare "No module named 'starlette'" named neither the function nor the cure.
            raise ModuleNotFoundError(
                f"cookiewall.{name} needs Starlette (FastAPI brings it; the rest of"
                " cookiewall does not): pip install starlette",
                name=error.name,
            ) from None
        return getattr(dependencies, name)
    raise AttributeError(f"module 'cookiewall' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazily imported names are public too: dir() and IDE completion list them before
    # the first use, as they list the others.
    return sorted(set(globals()) | set(__all__))
