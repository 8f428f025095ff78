"""The site over https, in Chromium, as it is deployed: TLS ended by uvicorn (HTTP/1.1), by
hypercorn (HTTP/2 through ALPN) and by nginx (HTTP/2) in front of uvicorn, which believes its
X-Forwarded-Proto (tests/apps/https_site.py, a certificate made here with openssl).

Each way, with and without JavaScript: the banner shows, a decision sticks in a Secure,
HttpOnly consent cookie (`secure=None`; under hypercorn a `__Host-` name), preference and
marketing cookies pass only with consent, GPC refuses marketing, withdrawal clears; the
recorder counts a plain link and a pushState (the beacon) with the referrer as internal, also
from another origin of the site (www.localhost, its Referer cut to the origin); the dashboard
answers over https without a cookie, its Mount's slash redirect stays on https; no page asks
for anything over http.

Behind nginx that uvicorn does not believe (`--forwarded-allow-ips` naming another address,
as with a proxy in another container), the consent cookie loses Secure: the gate says so in
the log, once. And the Mount's slash redirect, absolute with the scheme the server sees, points
at http: the README names both."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from analytics.spool import list_segments, read_segment
from tests.apps.https_site import DASHBOARD_PASSWORD, DASHBOARD_USER
from tests.browser_support import browser_context, wait_until
from tests.support import free_port, serve_command

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

APP = "tests.apps.https_site:create_app"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REJECT = re.compile("reject all", re.IGNORECASE)
ACCEPT = re.compile("accept all", re.IGNORECASE)
UNBELIEVED = "cookiewall: a consent request says it was forwarded from https"


def _missing(what: str) -> None:
    """Skip, with the reason shown; under COOKIEWALL_REQUIRE_BROWSER=1 (CI) fail instead."""
    if os.environ.get("COOKIEWALL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the https browser tests must run here: {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, www.localhost and 127.0.0.1: (key, cert)."""
    if shutil.which("openssl") is None:
        _missing("the openssl command is not installed (it makes the test certificate)")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subject = "subjectAltName=DNS:localhost,DNS:www.localhost,IP:127.0.0.1"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-addext", subject),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def _uvicorn(port: int, *options: str) -> list[str]:
    host = ("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning")
    return [sys.executable, "-m", "uvicorn", "--factory", APP, *host, *options]


@contextmanager
def _nginx_in_front(
    folder: Path, key: Path, cert: Path, port: int, upstream: int
) -> Iterator[None]:
    """nginx ending TLS (HTTP/2) on `port`, passing on to 127.0.0.1:`upstream` the browser's
    Host and the scheme, as the README's proxy configuration does."""
    if not os.access(NGINX, os.X_OK):
        _missing("nginx is not installed (make test installs it as root)")
    (folder / "tmp").mkdir(exist_ok=True)
    (folder / "nginx.conf").write_text(
        f"""pid nginx.pid;
error_log stderr warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
    proxy_max_temp_file_size 0;  # no temporary file: workers of a root nginx run as nobody
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""
    )
    argv = [NGINX, "-e", "stderr", "-p", str(folder), "-c", "nginx.conf", "-g", "daemon off;"]
    with serve_command(argv, port, {}):
        yield


@contextmanager
def served(
    way: str, certificate: tuple[Path, Path], folder: Path, cookie: str = "cookiewall"
) -> Iterator[tuple[str, Path]]:
    """The site served over https the `way` named; yield (its https base URL, its spool)."""
    key, cert = certificate
    spool = folder / "spool"
    env = {
        "HTTPS_SITE_SPOOL": str(spool),
        "HTTPS_SITE_DB": str(folder / "warehouse.duckdb"),
        "HTTPS_SITE_COOKIE": cookie,
    }
    port = free_port()
    tls = ("--ssl-keyfile", str(key), "--ssl-certfile", str(cert))
    with ExitStack() as stack:
        if way == "uvicorn":
            stack.enter_context(serve_command(_uvicorn(port, *tls), port, env))
        elif way == "hypercorn":
            argv = [sys.executable, "-m", "hypercorn", "-b", f"127.0.0.1:{port}"]
            argv += ["--keyfile", str(key), "--certfile", str(cert), f"{APP}()"]
            stack.enter_context(serve_command(argv, port, env))
        else:  # nginx in front of uvicorn, which believes it (127.0.0.1) or not
            upstream = free_port()
            believed = () if way == "nginx" else ("--forwarded-allow-ips", "192.0.2.1")
            stack.enter_context(serve_command(_uvicorn(upstream, *believed), upstream, env))
            stack.enter_context(_nginx_in_front(folder, key, cert, port, upstream))
        yield f"https://localhost:{port}", spool


# uvicorn and nginx decide Secure by the scheme (the default name); hypercorn carries a
# `__Host-` name, which a browser keeps only when Secure, at Path=/, host-only.
WAYS = {"uvicorn": "cookiewall", "hypercorn": "__Host-consent", "nginx": "cookiewall"}
PROTOCOL = {"uvicorn": "http/1.1", "hypercorn": "h2", "nginx": "h2"}


@pytest.fixture(scope="module", params=list(WAYS))
def site(
    request: pytest.FixtureRequest,
    certificate: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, Path]]:
    way = request.param
    with served(way, certificate, tmp_path_factory.mktemp(way), WAYS[way]) as (base, spool):
        yield way, base, spool


@contextmanager
def https_context(browser: Browser, **options: Any) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A visitor that takes the self-signed certificate, and the list of the http:// addresses
    it asked for (mixed content: there must be none)."""
    with browser_context(browser, ignore_https_errors=True, **options) as context:
        plain: list[str] = []
        context.on("request", lambda r: plain.append(r.url) if r.url.startswith("http:") else None)
        yield context, plain


def _cookies(context: BrowserContext) -> dict[str, dict[str, Any]]:
    return {cookie["name"]: dict(cookie) for cookie in context.cookies()}


def _banner(page: Page) -> Any:
    return page.get_by_role("region", name=re.compile("cookie|consent|privacy", re.IGNORECASE))


def _decide(page: Page, base: str, button: re.Pattern[str], *, granting: str) -> None:
    """Press `button` on the banner page; return once the stored choice grants `granting`
    (with JavaScript the choice goes by fetch, and the page may move on before it is stored)."""
    page.goto(base + "/consent/banner")
    page.get_by_role("button", name=button).click()
    for _ in range(100):
        state = page.context.request.get(base + "/consent").json()
        if state["decided"] and granting in state["granted"]:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the choice was not stored: {state}")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_decision_sticks_in_a_secure_cookie_and_gates_the_others(
    browser: Browser, site: tuple[str, str, Path], js: bool
) -> None:
    way, base, _ = site
    name = WAYS[way]
    with https_context(browser, java_script_enabled=js) as (context, plain):
        page = context.new_page()
        page.goto(base + "/")
        assert _banner(page).is_visible()
        assert _cookies(context) == {}  # theme and ad_id held back from an undecided visitor

        _decide(page, base, REJECT, granting="necessary")
        page.goto(base + "/")
        assert _banner(page).count() == 0
        stored = _cookies(context)
        assert set(stored) == {name}
        flags = (stored[name]["secure"], stored[name]["httpOnly"], stored[name]["path"])
        assert flags == (True, True, "/")

        _decide(page, base, ACCEPT, granting="preferences")
        page.goto(base + "/")
        assert set(_cookies(context)) == {name, "theme", "ad_id"}

        withdrawn = context.request.delete(base + "/consent", headers={"Origin": base})
        assert withdrawn.status == 200
        assert _cookies(context) == {}
        assert plain == []


def test_gpc_refuses_marketing_over_https(browser: Browser, site: tuple[str, str, Path]) -> None:
    way, base, _ = site
    with https_context(browser, extra_http_headers={"Sec-GPC": "1"}) as (context, _):
        page = context.new_page()
        _decide(page, base, ACCEPT, granting="preferences")
        page.goto(base + "/")
        assert set(_cookies(context)) == {WAYS[way], "theme"}
        assert context.request.get(base + "/consent").json()["gpc"] is True


def _events(spool: Path, paths: set[str]) -> list[tuple[str, str | None, str]]:
    """(path, referrer host, medium) of the recorded page views of `paths`, sorted."""
    return sorted(
        (event["path"], event["referrer_host"], event["referrer_medium"])
        for segment in list_segments(spool)
        for event in read_segment(segment.path).to_pylist()
        if event["path"] in paths
    )


def test_page_views_and_the_beacon_are_counted_with_internal_referrers(
    browser: Browser, site: tuple[str, str, Path]
) -> None:
    """A plain link, a pushState (the beacon, over HTTP/2 where the server speaks it) and a
    link from www.localhost (another origin of the site: Referer cut to its origin)."""
    way, base, spool = site
    with https_context(browser) as (context, plain):
        page = context.new_page()
        _decide(page, base, ACCEPT, granting="analytics")
        page.goto(base + "/")
        assert (
            page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")
            == (PROTOCOL[way])
        )
        page.click("text=next")
        page.wait_for_url(base + "/next")
        page.goto(base + "/spa")
        wait_until(page, "location.pathname === '/spa/moved'")
        other_origin = base.replace("//localhost", "//www.localhost")
        page.goto(other_origin + "/")
        page.evaluate(f"location.href = {base + '/next?from=www'!r}")
        page.wait_for_url(base + "/next?from=www")
        assert plain == []

    internal = ("localhost", "internal")
    wanted = [("/next", *internal), ("/next", *internal), ("/spa/moved", *internal)]
    deadline = time.monotonic() + 10
    while (found := _events(spool, {"/next", "/spa/moved"})) != wanted:
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def test_the_dashboard_over_https_sets_no_cookie_and_links_nothing_over_http(
    browser: Browser, site: tuple[str, str, Path]
) -> None:
    _, base, _ = site
    login = {"username": DASHBOARD_USER, "password": DASHBOARD_PASSWORD}
    with https_context(browser, http_credentials=login) as (context, plain):
        page = context.new_page()
        # Starlette's Mount adds the slash with an absolute URL in the scheme the server sees:
        # https here, where the server ends TLS or believes the proxy (a path would do too).
        moved = context.request.get(base + "/analytics", max_redirects=0)
        assert moved.status == 307
        assert moved.headers["location"] in {base + "/analytics/", "/analytics/"}
        answer = page.goto(base + "/analytics")
        assert answer is not None
        assert page.url == base + "/analytics/"
        assert answer.headers.get("set-cookie") is None
        assert "http://" not in page.content()
        assert plain == []
        assert _cookies(context) == {}


def test_a_proxy_the_server_does_not_believe_is_named_in_the_log(
    browser: Browser,
    certificate: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """nginx in another container, as uvicorn sees it: its X-Forwarded-Proto is not read, the
    app sees http, and the consent cookie has no Secure. The decision still works (Chromium
    sends Sec-Fetch-Site), and the log says, once, what to change. The dashboard's slash
    redirect names http (the README says so): nginx answers it with a 400 on its https port."""
    with (
        served("unbelieved", certificate, tmp_path) as (base, _),
        https_context(browser) as (context, _),
    ):
        page = context.new_page()
        _decide(page, base, REJECT, granting="necessary")
        assert _cookies(context)["cookiewall"]["secure"] is False
        moved = context.request.get(base + "/analytics", max_redirects=0)
        plain_base = base.replace("https://", "http://", 1)
        assert (moved.status, moved.headers["location"]) == (307, plain_base + "/analytics/")
    assert capfd.readouterr().err.count(UNBELIEVED) == 1
