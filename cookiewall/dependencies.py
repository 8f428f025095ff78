"""`get_consent`: the visitor's Consent for a FastAPI (or Starlette) endpoint.

Imported lazily by `cookiewall.get_consent`, so cookiewall itself needs neither Starlette nor
FastAPI; FastAPI injects the connection because of the `HTTPConnection` annotation.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cookiewall.consent import Consent


def get_consent(request: HTTPConnection) -> Consent:
    """`def view(consent: Consent = Depends(get_consent))`."""
    consent = request.scope.get("state", {}).get("consent")
    if not isinstance(consent, Consent):
        raise RuntimeError(
            "no consent on this request: add cookiewall.ConsentMiddleware to the app"
            " (websocket scopes pass through it untouched and carry none)"
        )
    return consent
