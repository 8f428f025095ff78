"""A real Flask (WSGI) app behind cookiewall under a real uvicorn: the README's Flask recipe.

`ConsentMiddleware(TrafficMiddleware(a2wsgi.WSGIMiddleware(flask_app), recorder=...), ...)`
(tests/flask_support.py). Shown over HTTP:

* an undecided visitor gets Flask's `session` cookie (declared necessary; it also carries
  `flash` messages) and not the `theme` preference; after accepting, `theme` passes too;
* the banner is injected in Flask's pages, a page streamed from a generator included;
* the consent endpoints work (JSON and the banner's no-JavaScript forms);
* a view reads the visitor's consent as `request.environ["asgi.scope"]["state"]["consent"]`
  (a2wsgi hands the ASGI scope on in the environ);
* page views reach the spool and roll up into `daily_pages`, with no address, user agent,
  cookie value or query string in the spool.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flask_support import THEME
from tests.framework_support import (
    BANNER,
    assert_two_visitors_recorded_and_nothing_of_them_kept,
    banner_forms,
    consent_shown,
    cookie_names,
    two_visitors_then_stop,
    visitor,
)
from tests.redirect_support import redirects_followed_then_stop
from tests.support import uvicorn_server

pytest.importorskip("flask", reason="pip install flask (the dev extra has it)")
pytest.importorskip("a2wsgi", reason="pip install a2wsgi (the dev extra has it)")

APP = "tests.flask_support:create_app"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spool = tmp_path_factory.mktemp("flask-spool")
    with uvicorn_server(APP, factory=True, env={"FLASK_SPOOL": str(spool)}) as (base, _):
        yield base


def test_undecided_visitor_gets_flasks_session_but_no_preference(site: str) -> None:
    with visitor(site) as browser:
        page = browser.get("/")
    assert page.status_code == 200
    assert cookie_names(page) == {"session"}  # `theme` removed, the session passed
    assert BANNER in page.text
    assert page.text.index(BANNER) < page.text.index("</body>")


def test_accepting_by_json_lets_the_preference_through(site: str) -> None:
    with visitor(site) as browser:
        answer = browser.post("/consent", json={"action": "accept_all"})
        assert answer.status_code == 200
        assert answer.json()["decided"] is True
        page = browser.get("/")
        assert cookie_names(page) == {"session", "theme"}
        assert page.cookies["theme"] == THEME
        assert BANNER not in page.text


@pytest.mark.parametrize(
    ("action", "page_cookies"),
    [("accept_all", {"session", "theme"}), ("reject_all", {"session"})],
)
def test_banner_forms_work_without_javascript(
    site: str, action: str, page_cookies: set[str]
) -> None:
    with visitor(site) as browser:
        page = browser.get("/stream")
        target, next_path = banner_forms(page.text)[action]
        assert (target, next_path) == ("/consent", "/stream")
        answer = browser.post(target, data={"next": next_path, "action": action})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/stream"
        assert BANNER not in browser.get("/stream").text
        assert cookie_names(browser.get("/")) == page_cookies


def test_streamed_page_gets_the_banner_and_loses_the_preference_cookie(site: str) -> None:
    with visitor(site) as browser:
        page = browser.get("/stream")
        assert page.status_code == 200
        assert "theme" not in cookie_names(page)
        text = page.text
        assert "<p>one</p><p>two</p><p>three</p>" in text
        assert text.index("<p>three</p>") < text.index(BANNER) < text.index("</body>")

        browser.post("/consent", json={"action": "accept_all"})
        accepted = browser.get("/stream")
        assert "theme" in cookie_names(accepted)
        assert BANNER not in accepted.text


def test_a_view_reads_the_visitors_consent_from_the_environ(site: str) -> None:
    with visitor(site) as browser:
        assert browser.get("/prefs").json() == {
            "decided": False,
            "summary": "undecided",
            "may_remember_theme": False,
        }
        assert consent_shown(browser.get("/").text) == "undecided"
        browser.post("/consent", json={"action": "save", "categories": ["preferences"]})
        assert browser.get("/prefs").json() == {
            "decided": True,
            "summary": "custom",
            "may_remember_theme": True,
        }
        assert consent_shown(browser.get("/").text) == "custom"


def test_page_views_recorded_rolled_up_and_nothing_of_the_visitor_kept(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    jars = two_visitors_then_stop(APP, {"FLASK_SPOOL": str(spool)})
    assert_two_visitors_recorded_and_nothing_of_them_kept(spool, tmp_path / "w.duckdb", jars, THEME)
    assert set(jars[0]) == {"session", "theme", "cookiewall"}
    assert set(jars[1]) == {"session"}


def test_a_redirect_then_its_target_is_one_page_view(tmp_path: Path) -> None:
    # Flask's redirects carry a text/html "Redirecting..." body: still no page anyone sees.
    spool = tmp_path / "spool"
    rows = redirects_followed_then_stop(
        "tests.redirect_support:create_flask_app", {"FLASK_SPOOL": str(spool)}, spool
    )
    assert rows == [("/", 200), ("/", 200)]
