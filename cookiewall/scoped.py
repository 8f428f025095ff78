"""`consent_from_scope`: the visitor's Consent for any framework, read from the ASGI scope.

Django keeps the scope as `request.scope`; a WSGI app made ASGI by a2wsgi finds it in its
environ as `environ["asgi.scope"]`. Neither is a Starlette request, so `get_consent` (which
FastAPI injects by its `HTTPConnection` annotation) does not fit them; this does, and needs
no Starlette.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cookiewall.consent import Consent

# Said by the kind of request: an HTTP request without one never went through the gate,
# while a websocket's always lacks one (the gate passes those through untouched).
_NO_CONSENT = (
    "no consent on this request: add cookiewall.ConsentMiddleware around the app"
    " (or this route is outside it)"
)
_NO_CONSENT_WEBSOCKET = (
    "no consent on this request: add cookiewall.ConsentMiddleware to the app"
    " (websocket scopes pass through it untouched and carry none)"
)


def consent_from_scope(scope: Mapping[str, Any]) -> Consent:
    """The visitor's `Consent`, as `ConsentMiddleware` put it in the ASGI `scope`.

    `scope` is the ASGI scope (Django: `request.scope`), or a WSGI environ that carries it
    under `"asgi.scope"` (Flask under a2wsgi: `request.environ`). A request the gate did not
    serve has none: a RuntimeError saying so, never a KeyError from deep inside a view.
    """
    inner = scope.get("asgi.scope")
    if isinstance(inner, Mapping):  # a WSGI environ (a2wsgi): the ASGI scope is inside it
        scope = inner
    elif "wsgi.version" in scope:
        raise RuntimeError(
            "no ASGI scope in this WSGI environ: serve the WSGI app through a2wsgi's"
            " WSGIMiddleware (asgiref's WsgiToAsgi does not hand the scope on)"
        )
    state = scope.get("state")
    consent = state.get("consent") if isinstance(state, Mapping) else None
    if not isinstance(consent, Consent):
        raise RuntimeError(
            _NO_CONSENT_WEBSOCKET if scope.get("type") == "websocket" else _NO_CONSENT
        )
    return consent
