"""A real Django project behind cookiewall under a real uvicorn: the README's Django recipe.

`ConsentMiddleware(TrafficMiddleware(get_asgi_application(), recorder=...), ...)` around a
Django project (tests/django_support.py) with Django's own SessionMiddleware,
CsrfViewMiddleware and MessageMiddleware active. Shown over HTTP:

* an undecided visitor gets Django's `csrftoken`, `sessionid` and `messages` (declared
  necessary) and not the `theme` preference; after accepting, `theme` passes too;
* the banner is injected in Django's pages, its `StreamingHttpResponse` page included;
* the consent endpoints (JSON and the banner's no-JavaScript forms, which carry no Django CSRF
  token) work beside Django's CSRF check, which still guards Django's own forms: the gate
  answers `/consent` itself, before Django sees it;
* a view reads the visitor's consent as `request.scope["state"]["consent"]`;
* page views reach the spool and roll up into `daily_pages`, with no address, user agent,
  cookie value or query string in the spool.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.django_support import THEME
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

pytest.importorskip("django", reason="pip install django (the dev extra has it)")

APP = "tests.django_support:create_app"
DJANGO_COOKIES = {"csrftoken", "sessionid", "messages"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spool = tmp_path_factory.mktemp("django-spool")
    with uvicorn_server(APP, factory=True, env={"DJANGO_SPOOL": str(spool)}) as (base, _):
        yield base


def test_undecided_visitor_gets_djangos_necessary_cookies_but_no_preference(site: str) -> None:
    with visitor(site) as browser:
        page = browser.get("/")
    assert page.status_code == 200
    assert cookie_names(page) == DJANGO_COOKIES  # `theme` removed, Django's own passed
    assert consent_shown(page.text) == "undecided"
    assert BANNER in page.text
    assert page.text.index(BANNER) < page.text.index("</body>")


def test_accepting_by_json_lets_the_preference_through(site: str) -> None:
    with visitor(site) as browser:
        assert browser.get("/prefs").json() == {
            "decided": False,
            "summary": "undecided",
            "may_remember_theme": False,
        }
        # No Django CSRF token: the gate answers /consent before Django's CsrfViewMiddleware.
        answer = browser.post("/consent", json={"action": "accept_all"})
        assert answer.status_code == 200
        assert answer.json()["decided"] is True
        assert "cookiewall" in cookie_names(answer)

        page = browser.get("/")
        assert cookie_names(page) == {*DJANGO_COOKIES, "theme"}
        assert page.cookies["theme"] == THEME
        assert consent_shown(page.text) == "all"
        assert BANNER not in page.text
        assert browser.get("/prefs").json() == {
            "decided": True,
            "summary": "all",
            "may_remember_theme": True,
        }


def test_saving_a_choice_by_json_is_what_the_view_reads(site: str) -> None:
    with visitor(site) as browser:
        answer = browser.post("/consent", json={"action": "save", "categories": ["analytics"]})
        assert answer.status_code == 200
        page = browser.get("/")
        assert cookie_names(page) == DJANGO_COOKIES  # preferences not chosen: no theme
        assert browser.get("/prefs").json() == {
            "decided": True,
            "summary": "custom",
            "may_remember_theme": False,
        }


@pytest.mark.parametrize(
    ("action", "summary", "page_cookies"),
    [
        ("accept_all", "all", {*DJANGO_COOKIES, "theme"}),
        ("reject_all", "none", DJANGO_COOKIES),
    ],
)
def test_banner_forms_work_without_javascript_beside_djangos_csrf(
    site: str, action: str, summary: str, page_cookies: set[str]
) -> None:
    with visitor(site) as browser:
        page = browser.get("/stream")
        target, next_path = banner_forms(page.text)[action]
        assert (target, next_path) == ("/consent", "/stream")
        # Exactly what the browser posts: the banner's fields, no csrfmiddlewaretoken.
        answer = browser.post(target, data={"next": next_path, "action": action})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/stream"

        again = browser.get(answer.headers["location"])
        assert BANNER not in again.text
        assert cookie_names(browser.get("/")) == page_cookies
        assert browser.get("/prefs").json()["summary"] == summary


def test_djangos_csrf_check_still_guards_djangos_own_forms(site: str) -> None:
    with visitor(site) as browser:
        page = browser.get("/")
        assert browser.post("/form", data={"x": "1"}).status_code == 403  # Django's answer
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token
        sent = browser.post("/form", data={"csrfmiddlewaretoken": token.group(1)})
        assert sent.status_code == 200
        assert "<p>sent</p>" in sent.text


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
        assert "<p>one</p><p>two</p><p>three</p></body></html>" in accepted.text


def test_page_views_recorded_rolled_up_and_nothing_of_the_visitor_kept(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    jars = two_visitors_then_stop(APP, {"DJANGO_SPOOL": str(spool)})
    # (Django itself answers no lifespan; TrafficMiddleware does it for the app.)
    assert_two_visitors_recorded_and_nothing_of_them_kept(spool, tmp_path / "w.duckdb", jars, THEME)
    assert set(jars[0]) == {*DJANGO_COOKIES, "theme", "cookiewall"}
    assert set(jars[1]) == DJANGO_COOKIES


def test_a_redirect_then_its_target_is_one_page_view(tmp_path: Path) -> None:
    # Django's redirects (HttpResponseRedirect, APPEND_SLASH's, login_required's) carry a
    # text/html body: still no page anyone sees.
    spool = tmp_path / "spool"
    rows = redirects_followed_then_stop(
        "tests.redirect_support:create_django_app", {"DJANGO_SPOOL": str(spool)}, spool
    )
    assert rows == [("/", 200), ("/", 200)]
