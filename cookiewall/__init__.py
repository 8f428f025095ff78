"""A privacy-first cookie-consent gate for ASGI applications.

`ConsentMiddleware(app, policy=..., secret_key=...)` lets the app's `Set-Cookie` headers
through only for the categories the visitor allowed, serves the consent endpoints and the
banner, honours Global Privacy Control, and puts the visitor's `Consent` in the scope.

`Policy`, `Category`, `CookieRule`: what the site asks consent for (`Policy.from_toml`).
`Consent`: the visitor's choice, as `request.state.consent` holds it.
`ReceiptLog`: proof of consent, one JSON line per decision, no personal data.
`consent_from_scope(scope)`: the `Consent` from an ASGI scope (Django, Flask under a2wsgi).
`get_consent`, `get_gate`: FastAPI/Starlette dependencies (these two need Starlette).
`consent_mode(policy, consent)`: the Google Consent Mode v2 signals for a consent.

`help()` on each explains its parameters; the README's "The consent gate" chapter has more.
"""

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
