"""The README read as a newcomer would: every Python snippet runs, every example does what the
README says of it. Snippets are fragments (`routes=[...]`, `keys = [current_key, ...]`), so
each gets the smallest prelude that makes it runnable and an epilogue that checks what it
promises."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import ROOT

README = (ROOT / "README.md").read_text()
PYTHON = sys.executable
KEY = "docs-review-signing-key-0123456789"

# Every ```python block, keyed by its first line: how it is made runnable and what is checked
# after it ran. (prelude, {placeholder: value}, epilogue)
_APP_CHECK = """
import asyncio, httpx
async def _check(app, path="/"):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        state = await client.get("/consent")
        assert state.status_code == 200, state.text
        assert state.json()["decided"] is False
        page = await client.get(path)
        assert page.status_code == 200, page.text
        return page
"""
# Django, configured in code for the Django snippets: one page that sets a preference cookie
# and Django's CSRF cookie (the README's `mysite.settings` stands for this).
_DJANGO_SETTINGS = """
from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
def _home(request):
    get_token(request)
    response = HttpResponse('<!doctype html><html><body><p>Django</p></body></html>')
    response.set_cookie('theme', 'dark')
    return response
from django.urls import path as _path
urlpatterns = [_path('', _home)]
settings.configure(
    ROOT_URLCONF='__main__', SECRET_KEY='readme-django-secret-key-' * 2, DEBUG=False,
    ALLOWED_HOSTS=['testserver'],
    MIDDLEWARE=['django.middleware.csrf.CsrfViewMiddleware'],
)
"""
RUNNABLE: dict[str, tuple[str, dict[str, str], str]] = {
    "from starlette.applications import Starlette": (
        "from starlette.routing import Route\n"
        "from starlette.responses import HTMLResponse\n"
        "async def home(request):\n"
        "    response = HTMLResponse('<html><body>hi</body></html>')\n"
        "    response.set_cookie('theme', 'dark')\n"
        "    return response\n",
        {
            "routes=[...]": "routes=[Route('/', home)]",
            "current_key, previous_key": f'"{KEY}", "{KEY}-old"',
        },
        _APP_CHECK
        + "page = asyncio.run(_check(app))\n"
        + "assert 'cookiewall' in page.text  # the banner, injected\n"
        + "assert 'theme=' not in page.headers.get('set-cookie', '')\n",
    ),
    "from cookiewall import ConsentMiddleware, Policy, ReceiptLog": (
        "from starlette.applications import Starlette\n"
        "async def asgi_app(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n",
        {
            "routes=[...]": "routes=[]",
            "current_key, previous_key": f'"{KEY}", "{KEY}-old"',
        },
        _APP_CHECK
        + "asyncio.run(_check(app))\n"
        + "prefs = asyncio.run(_check(api, '/prefs'))\n"
        + "assert prefs.json() == {'may_remember_theme': False}\n",
    ),
    "shop = ConsentMiddleware(Starlette(routes=[...]), policy=policy, secret_key=keys,": (
        "from starlette.applications import Starlette\n"
        "from starlette.routing import Mount\n"
        "from cookiewall import ConsentMiddleware, Policy\n"
        "policy = Policy.from_toml('cookiewall.toml')\n"
        f"keys = ['{KEY}']\n",
        {"routes=[...]": "routes=[]", ", ...]": "]"},
        _APP_CHECK.replace('get("/consent")', 'get("/shop/consent")')
        + "banner = asyncio.run(_check(app, '/shop/consent/banner?next=/shop/x'))\n"
        + "assert 'action=\"/shop/consent\"' in banner.text\n",
    ),
    "shop = TrafficMiddleware(shop_app, recorder=recorder)      # or inside ConsentMiddleware": (
        "import asyncio, contextlib, httpx, pathlib, tempfile\n"
        "from starlette.applications import Starlette\n"
        "from starlette.responses import HTMLResponse\n"
        "from starlette.routing import Mount, Route\n"
        "from analytics import Recorder, TrafficMiddleware\n"
        "async def _page(request):\n"
        "    return HTMLResponse('<html><body>hi</body></html>')\n"
        "shop_app = Starlette(routes=[Route('/', _page)])\n"
        "def _recorder():\n"
        "    # No timed flush: only the lifespan's close writes the page view.\n"
        "    return Recorder(spool_dir=tempfile.mkdtemp(), site='shop.example',\n"
        "                    flush_interval=3600)\n"
        "recorder = _recorder()\n",
        {},
        # Each outer lifespan writes what the mounted app's recorder holds as it ends.
        "async def _visit_then_stop(outer, spool):\n"
        "    async with outer.router.lifespan_context(outer):\n"
        "        transport = httpx.ASGITransport(app=outer, client=('203.0.113.5', 4000))\n"
        "        async with httpx.AsyncClient(transport=transport,\n"
        "                                     base_url='http://testserver') as client:\n"
        "            page = await client.get('/shop/', headers={'accept': 'text/html'})\n"
        "            assert page.status_code == 200, page.text\n"
        "        assert not list(spool.rglob('*.parquet'))\n"
        "    assert len(list(spool.rglob('*.parquet'))) == 1\n"
        "asyncio.run(_visit_then_stop(app, pathlib.Path(recorder.spool_dir)))\n"
        "recorder = _recorder()\n"
        "shop = TrafficMiddleware(shop_app, recorder=recorder)\n"
        "asyncio.run(_visit_then_stop(Starlette(routes=[Mount('/shop', app=shop)],\n"
        "                                       lifespan=lifespan),\n"
        "                             pathlib.Path(recorder.spool_dir)))\n",
    ),
    "from typing import Any": (
        "from fastapi import FastAPI, Response\n"
        "from cookiewall import ConsentMiddleware, Policy\n"
        "app = FastAPI()\n"
        "app.add_middleware(ConsentMiddleware, policy=Policy.from_toml('cookiewall.toml'),\n"
        f"                   secret_key='{KEY}')\n"
        "@app.get('/')\n"
        "def home(response: Response) -> dict:\n"
        "    response.set_cookie('_ga_X1', 'never-in-the-stats')\n"
        "    return {}\n",
        {},
        _APP_CHECK
        + "asyncio.run(_check(app))\n"
        + "stats = asyncio.run(_check(app, '/internal/consent-stats')).json()\n"
        + "assert stats['removed_by_name'] == {'_ga_X1': 1}, stats\n"
        + "assert 'never-in-the-stats' not in str(stats)\n",
    ),
    "from fastapi import FastAPI": (
        "",
        {"current_key, previous_key": f'"{KEY}", "{KEY}-old"'},
        "from fastapi.responses import HTMLResponse\n"
        "@app.get('/', response_class=HTMLResponse)\n"
        "def home() -> str:\n"
        "    return '<html><body>' + 'hi ' * 400 + '</body></html>'\n"
        + _APP_CHECK
        + "page = asyncio.run(_check(app))\n"
        + "assert page.headers['content-encoding'] == 'gzip'  # compressed outside the gate\n"
        + "assert 'cookiewall' in page.text  # ... after it injected the banner\n",
    ),
    "from datetime import timedelta": (
        "",
        {},
        "assert policy.rule_for('_ga_X1').category == 'analytics'\n"
        "assert policy.rule_for('_GA') is None  # case-sensitive\n",
    ),
    'Category("necessary", required=True, consent_mode=["security_storage"])': (
        "from cookiewall import Category\n",
        {},
        "",
    ),
    "from analytics import Recorder, TrafficMiddleware": (
        "from starlette.applications import Starlette\n"
        "from starlette.responses import HTMLResponse\n"
        "from starlette.routing import Route\n"
        "async def home(request):\n"
        "    return HTMLResponse('<html><body>hi</body></html>')\n"
        "app = Starlette(routes=[Route('/', home)])\n",
        {},
        "import asyncio, httpx\n"
        "async def _go():\n"
        "    transport = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        "        assert (await c.get('/')).status_code == 200\n"
        "asyncio.run(_go())\n"
        "assert recorder.flush() == 1\n"
        "recorder.close()\n",
    ),
    "from analytics.reports import ReportQuery, run_report": (
        "",
        {},
        "assert 'Referrers' in render(report, 'table')\n",
    ),
    "import os": (
        "import os\n"
        "os.environ['ANALYTICS_PASSWORD'] = 'docs-review-password'\n"
        f"os.environ['ANALYTICS_TOKEN'] = '{KEY}'\n",
        {},
        "import asyncio, httpx\n"
        "async def _go():\n"
        "    transport = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        "        assert (await c.get('/analytics/api/sites')).status_code == 401\n"
        f"        auth = {{'authorization': 'Bearer {KEY}'}}\n"
        "        sites = await c.get('/analytics/api/sites', headers=auth)\n"
        "        assert sites.status_code == 200, sites.text\n"
        "        assert sites.json()['sites'] == ['example.com']\n"
        "asyncio.run(_go())\n",
    ),
    "from cookiewall.banner import SCRIPT_HASH_SOURCE": (
        "",
        {"<your inline script>": "AAAA"},
        "import base64, hashlib\n"
        "from cookiewall.banner import BANNER_JS\n"
        "digest = base64.b64encode(hashlib.sha384(BANNER_JS).digest()).decode()\n"
        "assert f\"'sha384-{digest}'\" in CSP, CSP\n",
    ),
    "from analytics.navigation import script_tag": (
        "from analytics import Recorder, TrafficMiddleware\n"
        "async def app(scope, receive, send):\n"
        "    pass\n"
        "recorder = Recorder('spool', site='example.com')\n",
        {},
        "tag = script_tag('/_navigation')\n"
        "assert tag.startswith('<script src=\"/_navigation.js?v='), tag\n"
        "assert 'integrity=\"sha384-' in tag, tag\n"
        "recorder.close()\n",
    ),
    "app = TrafficMiddleware(": (
        "from analytics import Recorder, TrafficMiddleware\n"
        "async def app(scope, receive, send):\n"
        "    pass\n"
        "recorder = Recorder('spool', site='example.com')\n",
        {},
        "import pytest\n"
        "with pytest.raises(ValueError, match='navigation_paths'):\n"
        "    TrafficMiddleware(app, recorder=recorder, navigation_beacon='/_n',\n"
        "                      navigation_paths=['app/*'])\n"
        "recorder.close()\n",
    ),
    "# mysite/asgi.py": (
        _DJANGO_SETTINGS + _APP_CHECK,
        {"secret_key=keys": f"secret_key=[{KEY!r}]"},
        "page = asyncio.run(_check(application))\n"
        "assert '<p>Django</p>' in page.text and 'data-cookiewall' in page.text, page.text\n"
        "assert 'theme' not in page.cookies, page.headers\n"
        # Undeclared in this policy: removed until the visitor decides, as the README warns.
        "assert 'csrftoken' not in page.cookies, page.headers\n"
        "recorder.close()\n",
    ),
    "from django.http import JsonResponse": (
        _DJANGO_SETTINGS + _APP_CHECK,
        {},
        "from django.core.asgi import get_asgi_application\n"
        "from django.urls import path\n"
        "from cookiewall import ConsentMiddleware, Policy\n"
        "urlpatterns.append(path('prefs', prefs))\n"
        "app = ConsentMiddleware(get_asgi_application(), policy=Policy.from_toml("
        "'cookiewall.toml'), secret_key=[" + repr(KEY) + "])\n"
        "page = asyncio.run(_check(app, '/prefs'))\n"
        "assert page.json() == {'may_remember_theme': False}, page.text\n",
    ),
    # The dashboard beside a Django app: Django's page gets the banner, the dashboard answers
    # its token, and a view of the dashboard is not recorded as a page view of the site.
    "site = Starlette(routes=[": (
        _DJANGO_SETTINGS + _APP_CHECK + "import os\n"
        f"os.environ['ANALYTICS_TOKEN'] = '{KEY}'\n"
        "from django.core.asgi import get_asgi_application\n"
        "from starlette.applications import Starlette\n"
        "from starlette.routing import Mount\n"
        "from analytics import Recorder, TrafficMiddleware\n"
        "from analytics.dashboard import dashboard\n"
        "from cookiewall import ConsentMiddleware, Policy\n"
        "policy = Policy.from_toml('cookiewall.toml')\n",
        {"secret_key=keys": f"secret_key=[{KEY!r}]"},
        "recorder = application.app.recorder\n"
        "page = asyncio.run(_check(application))\n"
        "assert '<p>Django</p>' in page.text and 'data-cookiewall' in page.text, page.text\n"
        "async def _dashboard():\n"
        "    transport = httpx.ASGITransport(app=application)\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        f"        auth = {{'authorization': 'Bearer {KEY}'}}\n"
        "        sites = await c.get('/analytics/api/sites', headers=auth)\n"
        "        assert sites.status_code == 200, sites.text\n"
        "        assert sites.json()['sites'] == ['example.com'], sites.text\n"
        "        overview = await c.get('/analytics/', headers=auth)\n"
        "        assert overview.status_code == 200, overview.text\n"
        "        assert 'text/html' in overview.headers['content-type'], overview.headers\n"
        "asyncio.run(_dashboard())\n"
        "assert recorder.flush() == 1, 'the Django page alone is recorded'\n"
        "recorder.close()\n",
    ),
    "from a2wsgi import WSGIMiddleware": (
        _APP_CHECK,
        {"secret_key=keys": f"secret_key=[{KEY!r}]"},
        "page = asyncio.run(_check(application, '/prefs'))\n"
        "assert page.json() == {'may_remember_theme': False}, page.text\n"
        "recorder.close()\n",
    ),
}
# Blocks that need more than this machine offers, and why.
NOT_RUN = {
    "from analytics import Recorder": "ships segments to an S3 bucket",
    "from analytics.spark import load_spark_rollups": "reads the output of a Spark run",
}


def _python_blocks() -> list[str]:
    return re.findall(r"^ *```python\n(.*?)^ *```", README, flags=re.MULTILINE | re.DOTALL)


def _first_line(block: str) -> str:
    return textwrap.dedent(block).strip().splitlines()[0].strip()


def test_every_readme_python_block_is_run_or_says_why_not() -> None:
    firsts = [_first_line(block) for block in _python_blocks()]
    assert firsts, "the README has Python snippets"
    unknown = [line for line in firsts if line not in RUNNABLE and line not in NOT_RUN]
    assert not unknown, f"new README snippets: add them to RUNNABLE or NOT_RUN: {unknown}"
    assert len(set(firsts)) == len(firsts), "two snippets start alike: key them apart"


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as the README assumes: cookiewall.toml and var/ with a warehouse."""
    folder = tmp_path_factory.mktemp("site")
    shutil.copy(ROOT / "examples" / "cookiewall.toml", folder / "cookiewall.toml")
    _demo(folder / "var")
    return folder


def _demo(var: Path) -> None:
    args = ["--var", str(var), "--weeks", "2", "--visitors", "8"]
    done = subprocess.run(
        [PYTHON, "-m", "examples.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [PYTHON, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("first_line", list(RUNNABLE))
def test_readme_python_snippet_runs(first_line: str, site_dir: Path) -> None:
    blocks = [b for b in _python_blocks() if _first_line(b) == first_line]
    assert len(blocks) == 1, f"the README no longer has the snippet {first_line!r}"
    prelude, placeholders, epilogue = RUNNABLE[first_line]
    code = textwrap.dedent(blocks[0])
    for placeholder, value in placeholders.items():
        assert placeholder in code, f"{placeholder!r} is no longer in {first_line!r}"
        code = code.replace(placeholder, value)
    result = _run(prelude + code + epilogue, site_dir)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_readmes_consent_mode_lists_type_check(tmp_path: Path) -> None:
    user_code = tmp_path / "user_policy.py"
    user_code.write_text(
        "from cookiewall import Category\n\n"
        "CATEGORIES = [\n"
        '    Category("necessary", required=True, consent_mode=["security_storage"]),\n'
        '    Category("analytics", consent_mode=["analytics_storage"]),\n'
        "]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user_code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,  # mypy without its cache, on a loaded 2-core machine: it ran out at 120 s
        check=False,
    )
    assert result.returncode == 0, result.stdout


def _sql_blocks() -> list[str]:
    return re.findall(r"^ *```sql\n(.*?)^ *```", README, flags=re.MULTILINE | re.DOTALL)


def test_the_readmes_sql_over_the_spool_and_the_warehouse_runs(site_dir: Path) -> None:
    """Every ```sql block that reads the spool or the warehouse's tables runs, as written,
    against the demo's `var/` (the Spark output's and object storage's need what they name)."""
    import duckdb

    local = [
        block
        for block in _sql_blocks()
        if "s3://" not in block and "var/rollups" not in block and "Trino" not in block
    ]
    assert len(local) >= 6, local  # the spool query and the five for analysts
    with duckdb.connect(str(site_dir / "var" / "analytics.duckdb"), read_only=True) as con:
        con.execute(f"SET file_search_path = '{site_dir}'")
        for block in local:
            rows = con.sql(block).fetchall()
            assert rows, block  # the demo has traffic on every day of its weeks
