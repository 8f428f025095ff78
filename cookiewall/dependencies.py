"""`get_consent` and `get_gate`: the visitor's Consent, and the gate that served the request,
for a FastAPI (or Starlette) endpoint.

Imported lazily by `cookiewall.get_consent`, so cookiewall itself needs neither Starlette nor
FastAPI; FastAPI injects the connection because of the `HTTPConnection` annotation.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cookiewall.consent import Consent
from cookiewall.middleware import GATE_STATE_KEY, ConsentMiddleware
from cookiewall.scoped import consent_from_scope


def get_consent(request: HTTPConnection) -> Consent:
    """The visitor's `Consent` for `request`, as `ConsentMiddleware` put it in the scope.

    As a FastAPI dependency: `def view(consent: Consent = Depends(get_consent))`, then
    `consent.allows("preferences")`. Starlette routes may call it with the request. A
    request the gate did not serve (no middleware, or a websocket, which passes through it)
    has no consent: a RuntimeError saying so.
    """
    return consent_from_scope(request.scope)


def get_gate(request: HTTPConnection) -> ConsentMiddleware:
    """The `ConsentMiddleware` that served `request`: `Depends(get_gate)` in a health or
    metrics route reads its counters (`gate.statistics()`), also when the app added the
    middleware with `app.add_middleware` and never held the instance. A request no gate
    served is a RuntimeError saying so."""
    gate = request.scope.get("state", {}).get(GATE_STATE_KEY)
    if not isinstance(gate, ConsentMiddleware):
        raise RuntimeError(
            "no consent gate on this request: add cookiewall.ConsentMiddleware to the app"
            " (websocket scopes pass through it untouched and carry none)"
        )
    return gate
