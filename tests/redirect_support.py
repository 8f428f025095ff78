"""The Django and Flask test apps (tests/django_support.py, tests/flask_support.py) with
server redirects added, for real uvicorn in tests: both frameworks answer a redirect with a
`text/html` "Redirecting..." body, which must not count as a page view.

    DJANGO_SPOOL=/tmp/spool uvicorn --factory tests.redirect_support:create_django_app
    FLASK_SPOOL=/tmp/spool uvicorn --factory tests.redirect_support:create_flask_app

* ``/moved`` a permanent redirect (301) to ``/``, as a moved page or a trailing-slash fix;
* ``/login`` a redirect (302) to ``/``, as a login or a post/redirect/get form.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from analytics import Recorder, TrafficMiddleware
from cookiewall import ConsentMiddleware
from tests import django_support, flask_support
from tests.framework_support import visitor
from tests.support import uvicorn_server


def create_django_app() -> ConsentMiddleware:
    """The Django test project (its README recipe stack) with the two redirects."""
    app = django_support.create_app()  # configures Django: its URL patterns are read lazily
    from django.http import HttpResponsePermanentRedirect, HttpResponseRedirect
    from django.urls import path

    django_support.urlpatterns += [
        path("moved", lambda request: HttpResponsePermanentRedirect("/")),
        path("login", lambda request: HttpResponseRedirect("/")),
    ]
    return app


def create_flask_app() -> ConsentMiddleware:
    """The Flask test app with the two redirects, in its README recipe stack."""
    import flask
    from a2wsgi import WSGIMiddleware

    app = flask_support.flask_app()
    app.add_url_rule("/moved", "moved", lambda: flask.redirect("/", code=301))
    app.add_url_rule("/login", "login", lambda: flask.redirect("/"))
    flask_as_asgi: Any = WSGIMiddleware(app)
    recorder = Recorder(os.environ["FLASK_SPOOL"], flask_support.SITE, flush_interval=3600)
    return ConsentMiddleware(
        TrafficMiddleware(flask_as_asgi, recorder=recorder),
        policy=flask_support.POLICY,
        secret_key=flask_support.SECRET,
        inject_banner=True,
    )


def redirects_followed_then_stop(
    app: str, env: dict[str, str], spool: Path
) -> list[tuple[str, int]]:
    """Serve the `app` factory under a real uvicorn, follow its two redirects as a browser
    does (each answered as text/html, as Django and Flask do), stop the server with SIGTERM
    (lifespan shutdown flushes the recorder) and return the spooled (path, status) rows."""
    with uvicorn_server(app, factory=True, env=env) as (base, _), visitor(base) as browser:
        for path, status in (("/moved", 301), ("/login", 302)):
            page = browser.get(path, follow_redirects=True)
            (redirect,) = page.history
            assert redirect.status_code == status
            assert redirect.headers["content-type"].startswith("text/html")
            assert page.status_code == 200
            assert page.url.path == "/"
    rows: list[tuple[str, int]] = []
    for segment in sorted(spool.rglob("*.parquet")):
        rows += [(r["path"], r["status"]) for r in pq.read_table(segment).to_pylist()]
    return rows
