"""A user's FastAPI app, written following only the README, under a real uvicorn: every kind of
route (JSON API, background task, exception handler, mounted sub-app and static files, prefixed
router, lifespan) has its cookies gated, the consent dependency and Google Consent Mode's
states reach it, taking consent back expires cookies, and a graceful stop flushes the recorder."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from analytics.spool import list_segments, read_segment
from cookiewall import Consent, ConsentMiddleware, Policy, consent_mode
from tests.support import ROOT, uvicorn_server
from tests.test_cookiewall_support import receipt_of

EXAMPLE_TOML = ROOT / "examples" / "cookiewall.toml"
KEY = "integration-review-3-key-0123456789"

# Google's documented consent types (developers.google.com/tag-platform/security/guides/consent
# and the Tag Manager consent APIs): the four of Consent Mode v2 plus the three storage types.
GOOGLE_CONSENT_TYPES = {
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
}
GOOGLE_CONSENT_STATES = {"granted", "denied"}

# The user's project, as the README's "Mounting" and "The policy" sections show it.
USER_APP = textwrap.dedent(
    """
    from __future__ import annotations

    import os
    from contextlib import asynccontextmanager
    from pathlib import Path
    from typing import Annotated

    from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request, Response
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    from analytics import Recorder, TrafficMiddleware
    from cookiewall import Consent, ConsentMiddleware, Policy, ReceiptLog, get_consent

    HERE = Path(os.environ["USER_APP_DIR"])
    policy = Policy.from_toml(os.environ["USER_APP_POLICY"])
    keys = [os.environ["USER_APP_KEY"], "an-older-key-still-verifies"]
    SEEN: list[str] = []


    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield {"greeting": "hello"}
        (HERE / "shutdown-ran").write_text("yes")


    app = FastAPI(lifespan=lifespan)
    # add_middleware: the last one added is outermost, so the gate goes in after the recorder.
    app.add_middleware(TrafficMiddleware, recorder=Recorder(HERE / "spool", site="example.com"))
    app.add_middleware(ConsentMiddleware, policy=policy, secret_key=keys, inject_banner=True,
                       receipts=ReceiptLog(HERE / "receipts.jsonl"))
    ConsentDep = Annotated[Consent, Depends(get_consent)]


    @app.get("/", response_class=HTMLResponse)
    def home(consent: ConsentDep, request: Request) -> str:
        return ("<!doctype html><html><head><title>Home</title></head><body>"
                f"<p>{consent.summary} {request.state.greeting}</p></body></html>")


    @app.get("/prefs")
    def prefs(consent: Consent = Depends(get_consent)):
        return {"may_remember_theme": consent.allows("preferences")}


    @app.post("/theme")
    def theme(response: Response, consent: ConsentDep) -> dict[str, bool]:
        if consent.allows("preferences"):
            response.set_cookie("theme", "dark")
        return {"remembered": consent.allows("preferences")}


    @app.post("/theme-anyway")
    def theme_anyway(response: Response) -> dict[str, bool]:
        response.set_cookie("theme", "dark")  # the gate decides
        return {"ok": True}


    @app.get("/api/items")
    def items(response: Response, consent: ConsentDep):
        response.set_cookie("_ga", "GA1.1.1.1")
        response.set_cookie("session", "s1", httponly=True)
        response.set_cookie("ad_id", "c1")
        return [{"id": 1, "granted": sorted(consent.granted)}]


    def remember(summary: str) -> None:
        SEEN.append(summary)


    @app.get("/later")
    def later(tasks: BackgroundTasks, consent: ConsentDep, response: Response):
        tasks.add_task(remember, consent.summary)
        response.set_cookie("_ga", "GA1.1.2.2")
        return {"queued": True}


    @app.get("/seen")
    def seen():
        return SEEN


    class Teapot(Exception):
        pass


    @app.exception_handler(Teapot)
    async def teapot(request: Request, exc: Teapot):
        answer = JSONResponse({"summary": request.state.consent.summary}, status_code=418)
        answer.set_cookie("ad_id", "from-the-handler")
        return answer


    @app.get("/teapot")
    def raise_teapot():
        raise Teapot()


    router = APIRouter(prefix="/v1")


    @router.get("/me")
    def me(consent: ConsentDep, response: Response):
        response.set_cookie("_ga", "GA1.1.3.3")
        return {"summary": consent.summary}


    app.include_router(router)
    sub = FastAPI()


    @sub.get("/who")
    def who(consent: ConsentDep, response: Response):
        response.set_cookie("theme", "light")
        return {"summary": consent.summary}


    app.mount("/sub", sub)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    """
)
STATIC_PAGE = "<!doctype html><html><head><title>S</title></head><body><p>static</p></body></html>"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("user_project")
    (here / "myapp.py").write_text(USER_APP)
    (here / "cookiewall.toml").write_text(EXAMPLE_TOML.read_text())
    (here / "static").mkdir()
    (here / "static" / "page.html").write_text(STATIC_PAGE)
    (here / "static" / "site.css").write_text("body { margin: 0 }\n")
    return here


@pytest.fixture(scope="module")
def server(user_project: Path) -> Iterator[str]:
    env = {
        "USER_APP_DIR": str(user_project),
        "USER_APP_POLICY": str(user_project / "cookiewall.toml"),
        "USER_APP_KEY": KEY,
    }
    with uvicorn_server("myapp:app", env=env, extra_args=("--app-dir", str(user_project))) as (
        base,
        _,
    ):
        yield base
    # After a graceful stop: the user's lifespan ran its shutdown, the recorder flushed.


@contextmanager
def visitor(base: str, decision: dict[str, Any] | None, **headers: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers={"user-agent": FIREFOX, **headers}) as client:
        if decision is not None:
            answer = client.post("/consent", json=decision)
            assert answer.status_code == 200, answer.text
        yield client


def cookie_names(response: httpx.Response) -> set[str]:
    return {value.split("=", 1)[0] for value in response.headers.get_list("set-cookie")}


UNDECIDED = None
ACCEPT_ALL = {"action": "accept_all"}
REJECT_ALL = {"action": "reject_all"}
ONLY_ANALYTICS = {"action": "save", "categories": ["analytics"]}


# --- the README's FastAPI integration, under a real uvicorn -----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "decision", "cookies"),
    [
        # a preference cookie set only with consent (the app asks first)
        ("POST", "/theme", UNDECIDED, set()),
        ("POST", "/theme", REJECT_ALL, set()),
        ("POST", "/theme", ACCEPT_ALL, {"theme"}),
        # ... and one the app sets regardless: the gate drops it
        ("POST", "/theme-anyway", UNDECIDED, set()),
        ("POST", "/theme-anyway", ONLY_ANALYTICS, set()),
        ("POST", "/theme-anyway", ACCEPT_ALL, {"theme"}),
        # a JSON API route: HttpOnly necessary cookie always, the others by category
        ("GET", "/api/items", UNDECIDED, {"session"}),
        ("GET", "/api/items", REJECT_ALL, {"session"}),
        ("GET", "/api/items", ONLY_ANALYTICS, {"session", "_ga"}),
        ("GET", "/api/items", ACCEPT_ALL, {"session", "_ga", "ad_id"}),
        # a route with a background task
        ("GET", "/later", UNDECIDED, set()),
        ("GET", "/later", ONLY_ANALYTICS, {"_ga"}),
        # an exception handler's response is gated like any other
        ("GET", "/teapot", UNDECIDED, set()),
        ("GET", "/teapot", ONLY_ANALYTICS, set()),
        ("GET", "/teapot", ACCEPT_ALL, {"ad_id"}),
        # a router with a prefix
        ("GET", "/v1/me", REJECT_ALL, set()),
        ("GET", "/v1/me", ONLY_ANALYTICS, {"_ga"}),
        # a mounted sub-application
        ("GET", "/sub/who", UNDECIDED, set()),
        ("GET", "/sub/who", ACCEPT_ALL, {"theme"}),
    ],
)
def test_every_kind_of_route_has_its_set_cookies_gated(
    server: str, method: str, path: str, decision: dict[str, Any] | None, cookies: set[str]
) -> None:
    with visitor(server, decision) as client:
        answer = client.request(method, path)
    assert answer.status_code in (200, 418), answer.text
    assert cookie_names(answer) == cookies


@pytest.mark.parametrize(
    ("path", "decision", "body"),
    [
        ("/prefs", UNDECIDED, {"may_remember_theme": False}),
        ("/prefs", ONLY_ANALYTICS, {"may_remember_theme": False}),
        ("/prefs", ACCEPT_ALL, {"may_remember_theme": True}),
        ("/v1/me", UNDECIDED, {"summary": "undecided"}),
        ("/v1/me", REJECT_ALL, {"summary": "none"}),
        ("/v1/me", ONLY_ANALYTICS, {"summary": "custom"}),
        ("/sub/who", ACCEPT_ALL, {"summary": "all"}),
        ("/teapot", REJECT_ALL, {"summary": "none"}),
    ],
)
def test_the_dependency_hands_every_route_the_visitors_consent(
    server: str, path: str, decision: dict[str, Any] | None, body: dict[str, Any]
) -> None:
    with visitor(server, decision) as client:
        assert client.get(path).json() == body


@pytest.mark.parametrize(("gpc", "expected"), [("0", "all"), ("1", "custom")])
def test_gpc_reaches_the_dependency(server: str, gpc: str, expected: str) -> None:
    with visitor(server, ACCEPT_ALL, **{"sec-gpc": gpc}) as client:
        assert client.get("/v1/me").json() == {"summary": expected}


def test_a_background_task_runs_with_the_consent_its_route_was_given(server: str) -> None:
    with visitor(server, REJECT_ALL) as client:
        assert client.get("/later").json() == {"queued": True}
        assert client.get("/seen").json()[-1] == "none"


def test_the_banner_lands_in_the_apps_pages_and_the_lifespan_state_still_reaches_routes(
    server: str,
) -> None:
    with visitor(server, UNDECIDED) as client:
        page = client.get("/")
        static_page = client.get("/static/page.html")
        css = client.get("/static/site.css")
    # lifespan state ("greeting") and the gate's consent share request.state
    assert "<p>undecided hello</p>" in page.text
    for html_page in (page, static_page):
        assert "data-cookiewall" in html_page.text
        assert html_page.headers["cache-control"].startswith("private")
        assert int(html_page.headers["content-length"]) == len(html_page.content)
    assert "etag" not in static_page.headers  # it described the page without the banner
    assert css.text == "body { margin: 0 }\n"
    assert "etag" in css.headers

    with visitor(server, ACCEPT_ALL) as client:
        assert "data-cookiewall" not in client.get("/static/page.html").text


def test_endpoints_answer_inside_the_users_app_and_the_404s_stay_the_apps(server: str) -> None:
    with visitor(server, UNDECIDED) as client:
        assert client.get("/consent").json()["decided"] is False
        assert client.get("/consent/cookies").status_code == 200
        missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}


# --- Google Consent Mode: Google's documented consent types and states -------------------------


def defaults_in(script: str) -> dict[str, str]:
    match = re.search(r'gtag\("consent", "default", (\{.*?\})\);', script)
    assert match, script
    signals: dict[str, str] = json.loads(match.group(1))
    return signals


@pytest.mark.parametrize(
    ("decision", "headers", "granted"),
    [
        (UNDECIDED, {}, {"security_storage"}),
        (REJECT_ALL, {}, {"security_storage"}),
        (
            ONLY_ANALYTICS,
            {},
            {"security_storage", "analytics_storage"},
        ),
        (ACCEPT_ALL, {}, GOOGLE_CONSENT_TYPES),
        # GPC turns marketing (gpc_opt_out) off: every ad signal is denied
        (
            ACCEPT_ALL,
            {"sec-gpc": "1"},
            GOOGLE_CONSENT_TYPES - {"ad_storage", "ad_user_data", "ad_personalization"},
        ),
    ],
)
def test_the_consent_mode_script_sets_googles_documented_defaults(
    server: str, decision: dict[str, Any] | None, headers: dict[str, str], granted: set[str]
) -> None:
    with visitor(server, decision, **headers) as client:
        script = client.get("/consent/consent-mode.js")
        state = client.get("/consent").json()
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "private, no-store"
    signals = defaults_in(script.text)
    # every type Google documents, each with one of its two documented states, nothing else
    assert set(signals) == GOOGLE_CONSENT_TYPES
    assert set(signals.values()) <= GOOGLE_CONSENT_STATES
    assert {name for name, value in signals.items() if value == "granted"} == granted
    # the default comes before anything else touches gtag, and redaction only with ads denied
    assert script.text.index('"consent", "default"') < script.text.find('"set"') or (
        '"set"' not in script.text
    )
    assert ('gtag("set", "ads_data_redaction", true)' in script.text) == (
        signals["ad_storage"] == "denied"
    )
    # the banner's update (from GET /consent) says the same as the next page's defaults
    assert state["consent_mode"] == signals


def test_the_script_carries_nothing_about_the_visitor(server: str) -> None:
    with visitor(server, ACCEPT_ALL) as client:
        receipt = receipt_of(client.cookies["cookiewall"])
        script = client.get("/consent/consent-mode.js").text
    assert receipt
    assert receipt not in script
    assert "cookiewall=" not in script


def test_consent_mode_for_your_own_templates_matches_the_script() -> None:
    policy = Policy.from_toml(EXAMPLE_TOML)
    undecided = Consent(
        False, frozenset({"necessary"}), policy.category_names, policy.required_names
    )
    signals = consent_mode(policy, undecided)
    assert list(signals) == [
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "analytics_storage",
        "functionality_storage",
        "personalization_storage",
        "security_storage",
    ]
    assert signals["security_storage"] == "granted"
    assert set(signals.values()) - {"granted"} == {"denied"}


# --- after the server stopped: the lifespan and the recorder ------------------------------------


def test_a_graceful_stop_runs_the_users_lifespan_and_flushes_the_recorder(
    user_project: Path,
) -> None:
    env = {
        "USER_APP_DIR": str(user_project),
        "USER_APP_POLICY": str(user_project / "cookiewall.toml"),
        "USER_APP_KEY": KEY,
    }
    marker = user_project / "shutdown-ran"
    marker.unlink(missing_ok=True)
    with (
        uvicorn_server("myapp:app", env=env, extra_args=("--app-dir", str(user_project))) as (
            base,
            _,
        ),
        visitor(base, REJECT_ALL) as client,
    ):
        assert client.get("/").status_code == 200  # a page view (HTML)
    assert marker.read_text() == "yes"
    rows = [
        row
        for segment in list_segments(user_project / "spool")
        for row in read_segment(segment.path).to_pylist()
    ]
    mine = [row for row in rows if row["path"] == "/" and row["consent"] == "none"]
    assert mine, rows
    # the consent endpoint itself is never recorded
    assert not [row for row in rows if row["path"].startswith("/consent")]
    receipts = (user_project / "receipts.jsonl").read_text().splitlines()
    assert any(json.loads(line)["action"] == "reject_all" for line in receipts)


@pytest.mark.parametrize(
    "narrowing", [REJECT_ALL, {"action": "save", "categories": ["preferences"]}]
)
def test_taking_consent_back_expires_the_cookies_it_had_allowed(
    server: str, narrowing: dict[str, Any]
) -> None:
    with visitor(server, ACCEPT_ALL) as client:
        client.get("/api/items")  # the browser now holds _ga and session (and ad_id)
        client.post("/theme")  # and theme
        assert {"_ga", "theme", "session"} <= set(client.cookies.keys())
        answer = client.post("/consent", json=narrowing)
    expired = {
        value.split("=", 1)[0]
        for value in answer.headers.get_list("set-cookie")
        if "max-age=0" in value.lower()
    }
    taken_back = {"_ga", "ad_id"} | ({"theme"} if narrowing is REJECT_ALL else set())
    assert expired >= taken_back
    assert "session" not in expired


# --- a handler for Exception / 500 runs outside every add_middleware middleware ----------------


def failing_app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        answer = JSONResponse({"error": "sorry"}, status_code=500)
        answer.set_cookie("ad_id", "from-the-500-handler")
        return answer

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize(("wrapped", "gated"), [(False, False), (True, True)])
def test_the_500_handlers_cookies_are_gated_only_when_the_gate_wraps_the_app(
    wrapped: bool, gated: bool
) -> None:
    # Starlette runs an Exception/500 handler in ServerErrorMiddleware, outside every
    # add_middleware middleware: only `ConsentMiddleware(app, ...)` is outside it (README).
    policy = Policy.from_toml(EXAMPLE_TOML)
    app: Any = failing_app()
    if wrapped:
        app = ConsentMiddleware(app, policy=policy, secret_key=KEY)
    else:
        app.add_middleware(ConsentMiddleware, policy=policy, secret_key=KEY)

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/boom")

    answer = asyncio.run(fetch())
    assert answer.status_code == 500
    assert answer.json() == {"error": "sorry"}
    assert ("ad_id" not in cookie_names(answer)) is gated
