"""A tiny real Django project behind cookiewall, for real uvicorn in tests.

Settings in code, Django's own session, CSRF and messages middleware active, served as
`get_asgi_application()` wrapped the way the README's Django recipe says::

    DJANGO_SPOOL=/tmp/spool uvicorn --factory tests.django_support:create_app

* ``DJANGO_SPOOL`` — the recorder's spool folder (required)

Pages (every one is HTML and ends in `</body>`, so an undecided visitor's gets the banner):

* ``/`` sets the cookies a Django site sets: ``csrftoken`` (a form's token), ``sessionid``
  (the signed-cookie session), ``messages`` (a flash message not shown yet), and ``theme``,
  a preference; it says the visitor's consent summary, read from the ASGI scope.
* ``/stream`` a `StreamingHttpResponse` page sent in three chunks (an async iterator, the
  way Django streams under ASGI), which also sets ``theme``.
* ``/prefs`` JSON: what the view reads of the visitor's consent (not a page view).
* ``/form`` POST only, behind Django's CSRF check: 403 from Django without the token.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
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

SECRET = "django-test-consent-key-0123456789"
SITE = "example.com"
THEME = "dark-7f3a"  # the preference cookie's value: must never reach the spool

POLICY = Policy(
    version="2026-11-29",
    categories=[
        Category("necessary", required=True, description="The site cannot work without these."),
        Category("preferences", description="Remember your settings."),
        Category("analytics", description="Count visits."),
    ],
    cookies=[
        # What Django itself sets: declared necessary, so they pass before any choice.
        CookieRule("csrftoken", "necessary", purpose="Protects forms against forgery"),
        CookieRule("sessionid", "necessary", purpose="Keeps your session"),
        CookieRule("messages", "necessary", purpose="Shows a notice on the next page"),
        CookieRule("theme", "preferences", purpose="Your colour scheme"),
    ],
)


def consent_of(request: Any) -> Consent:
    """The visitor's Consent as the gate put it in the ASGI scope (Django's ASGIRequest
    keeps the scope as `request.scope`)."""
    return consent_from_scope(request.scope)


def home(request: Any) -> Any:
    from django.contrib import messages
    from django.http import HttpResponse
    from django.middleware.csrf import get_token

    token = get_token(request)  # Django's CsrfViewMiddleware sets `csrftoken` for it
    request.session["visits"] = request.session.get("visits", 0) + 1  # `sessionid`
    messages.info(request, "Welcome back")  # not shown on this page: `messages` cookie
    consent = consent_of(request)
    response = HttpResponse(
        "<!doctype html><html><head><title>Django</title></head><body>"
        f'<p id="consent">{consent.summary}</p>'
        '<form method="post" action="/form">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        "<button>Send</button></form></body></html>"
    )
    response.set_cookie("theme", THEME)
    return response


async def stream(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    async def chunks() -> AsyncIterator[str]:
        yield "<!doctype html><html><head><title>Streamed</title></head><body><p>one</p>"
        await asyncio.sleep(0.05)
        yield "<p>two</p>"
        await asyncio.sleep(0.05)
        yield "<p>three</p></body></html>"

    response = StreamingHttpResponse(chunks(), content_type="text/html; charset=utf-8")
    response.set_cookie("theme", THEME)
    return response


def prefs(request: Any) -> Any:
    from django.http import JsonResponse

    consent = consent_of(request)
    return JsonResponse(
        {
            "decided": consent.decided,
            "summary": consent.summary,
            "may_remember_theme": consent.allows("preferences"),
        }
    )


def form(request: Any) -> Any:
    from django.http import HttpResponse, HttpResponseNotAllowed

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return HttpResponse("<html><body><p>sent</p></body></html>")


def _configure_django() -> None:
    import django
    from django.conf import settings
    from django.urls import path

    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-secret-key-0123456789abcdef",
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.sessions", "django.contrib.messages"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        # No database: the session and the messages live in signed cookies.
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        MESSAGE_STORAGE="django.contrib.messages.storage.cookie.CookieStorage",
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()
    global urlpatterns
    urlpatterns = [
        path("", home),
        path("stream", stream),
        path("prefs", prefs),
        path("form", form),
    ]


urlpatterns: list[Any] = []


def create_app() -> ConsentMiddleware:
    """The Django project, recorded and gated: the README's Django recipe."""
    _configure_django()
    from django.core.asgi import get_asgi_application

    recorder = Recorder(os.environ["DJANGO_SPOOL"], SITE, flush_interval=3600)
    return ConsentMiddleware(
        TrafficMiddleware(get_asgi_application(), recorder=recorder),
        policy=POLICY,
        secret_key=SECRET,
        inject_banner=True,
    )
