"""A tiny real Flask (WSGI) app behind cookiewall, for real uvicorn in tests.

Flask speaks WSGI: `a2wsgi.WSGIMiddleware` makes it ASGI (and hands the ASGI scope on as
``environ["asgi.scope"]``), and the gate and the recorder wrap that, the way the README's Flask
recipe says::

    FLASK_SPOOL=/tmp/spool uvicorn --factory tests.flask_support:create_app

* ``FLASK_SPOOL`` — the recorder's spool folder (required)

Not asgiref's `WsgiToAsgi`: its environ has no scope, so a view cannot read the consent, and
asgiref 3.9+ fails some of its requests under uvicorn with "CurrentThreadExecutor already quit
or is broken" (asgiref's own bug: a bare Flask app through it fails the same way).

Pages (HTML ending in `</body>`, so an undecided visitor's get the banner):

* ``/`` sets Flask's ``session`` cookie (a visit count and a `flash` message) and ``theme``, a
  preference; it says the visitor's consent summary.
* ``/stream`` a page streamed from a generator in three chunks, which also sets ``theme``.
* ``/prefs`` JSON: what the view reads of the visitor's consent (not a page view).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from analytics import Recorder, TrafficMiddleware
from cookiewall import (
    Category,
    Consent,
    ConsentMiddleware,
    CookieRule,
    Policy,
    consent_from_scope,
)

SECRET = "flask-test-consent-key-0123456789"
SITE = "example.com"
THEME = "dark-4c1d"  # the preference cookie's value: must never reach the spool

POLICY = Policy(
    version="2026-11-29",
    categories=[
        Category("necessary", required=True, description="The site cannot work without these."),
        Category("preferences", description="Remember your settings."),
        Category("analytics", description="Count visits."),
    ],
    cookies=[
        # Flask's signed-cookie session (which also carries `flash` messages): necessary.
        CookieRule("session", "necessary", purpose="Keeps your session and notices"),
        CookieRule("theme", "preferences", purpose="Your colour scheme"),
    ],
)


def consent_of(environ: dict[str, Any]) -> Consent:
    """The visitor's Consent as the gate put it in the ASGI scope, which a2wsgi hands on
    as `environ["asgi.scope"]` (the README's recipe: `consent_from_scope(request.environ)`)."""
    return consent_from_scope(environ)


def flask_app() -> Any:
    import flask

    app = flask.Flask(__name__)
    app.secret_key = "flask-test-secret-key-0123456789abcdef"

    @app.get("/")
    def home() -> Any:
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        flask.flash("Welcome back")  # kept in the session cookie until shown
        consent = consent_of(flask.request.environ)
        response = flask.make_response(
            "<!doctype html><html><head><title>Flask</title></head><body>"
            f'<p id="consent">{consent.summary}</p></body></html>'
        )
        response.set_cookie("theme", THEME)
        return response

    @app.get("/stream")
    def stream() -> Any:
        def chunks() -> Iterator[str]:
            yield "<!doctype html><html><head><title>Streamed</title></head><body><p>one</p>"
            time.sleep(0.05)
            yield "<p>two</p>"
            time.sleep(0.05)
            yield "<p>three</p></body></html>"

        response = flask.Response(chunks(), content_type="text/html; charset=utf-8")
        response.set_cookie("theme", THEME)
        return response

    @app.get("/prefs")
    def prefs() -> Any:
        consent = consent_of(flask.request.environ)
        return {
            "decided": consent.decided,
            "summary": consent.summary,
            "may_remember_theme": consent.allows("preferences"),
        }

    return app


def create_app() -> ConsentMiddleware:
    """The Flask app, recorded and gated: the README's Flask recipe."""
    from a2wsgi import WSGIMiddleware

    # Any: a2wsgi types its scopes as TypedDicts, which a type checker does not take for the
    # plain mappings cookiewall's and analytics' ASGI types name; at run time they are dicts.
    flask_as_asgi: Any = WSGIMiddleware(flask_app())
    recorder = Recorder(os.environ["FLASK_SPOOL"], SITE, flush_interval=3600)
    return ConsentMiddleware(
        TrafficMiddleware(flask_as_asgi, recorder=recorder),
        policy=POLICY,
        secret_key=SECRET,
        inject_banner=True,
    )
