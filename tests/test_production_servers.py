"""The full stack under the servers people deploy with, as real processes on 127.0.0.1.

Promises checked (SPEC 3.2, 4.1 "Never stored", 4.2, 5 "many concurrent workers — with nothing
lost and nothing counted twice"), with the app of tests/apps/full_stack_app.py (consent gate ->
recorder -> a page that sets one cookie of each category):

* uvicorn with its C parts (``--http httptools --loop uvloop``): banner, form consent (303 and
  the cookie), each returning visitor gets exactly the cookies it allowed; after SIGTERM the
  spool holds exactly the page views, no temporary file, and no byte of the client's address,
  user agent, query string or cookies.
* gunicorn with two ``uvicorn_worker.UvicornWorker`` workers (the ``uvicorn-worker`` package;
  uvicorn's own ``uvicorn.workers.UvicornWorker`` is deprecated and keeps the SIGTERM cases),
  with and without ``--preload`` (app and Recorder built in the master, then forked): both
  workers serve, SIGTERM to the master flushes both, every request is in the spool and the
  warehouse exactly once. A worker SIGKILLed under load is replaced; the spool holds no partial
  segment, and what is lost is at most what that worker had not flushed yet.
* hypercorn over HTTP/1.1 and cleartext HTTP/2 (prior knowledge): the gate reads the consent
  cookie when the Cookie header comes in several fields, and lifespan shutdown flushes.
* hypercorn's own workers (``-w 2``: processes started with multiprocessing's "spawn", each
  importing the app and building its own Recorder): both serve, hash with the one salt, and a
  stop writes nothing twice. hypercorn <= 0.18 may cut the slower worker's shutdown short
  (always when a request is still in flight on it), and its worker processes (``-w 1``, the
  default, too) die at once on a SIGTERM of their own (systemd stops every process of a
  service): their buffered events are lost. Strict xfails pin both down; ``-w 0`` (serving
  in the process started) flushes whoever gets the SIGTERM.
* uvicorn's own workers (``--workers 2``, also spawned) and gunicorn's two uvicorn workers
  (with and without ``--preload``), stopped by SIGTERM to every process at once as systemd
  stops a service (uvicorn also by SIGTERM to its parent alone), with and without an answer
  still in flight: both serve, every answered request is in the spool exactly once, no
  temporary file, no traceback; uvicorn's parent and gunicorn's master exit 0.

Every answer names the process that served it (``x-served-by``, added by `create_app` here),
so a test knows which worker answered which request.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import duckdb
import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics.spool import TEMP_PREFIX, list_segments, read_segment
from analytics.warehouse import Warehouse
from tests.apps import full_stack_app
from tests.apps.load_client import BROWSER_UA
from tests.framework_support import leaks_in
from tests.support import free_port, serve_command, uvicorn_server

SERVED_BY = "x-served-by"
COOKIE_FIELDS = "x-cookie-fields"
ALL_PAGE_COOKIES = {"session", "theme", "_ga_T1", "ad_id"}  # "tracker" has no rule: never
# What must never reach a byte of the spool: the client's address, user agent, query string
# and cookie values (the consent cookie's own value is added per test).
USER_AGENT = f"{BROWSER_UA} ProdProbe-okapi/7.1"
QUERY_SECRET = "qs-secret-okapi-5521"
NEVER_STORED = [
    "127.0.0.1",
    "ProdProbe-okapi",
    "Chrome/126",
    QUERY_SECRET,
    full_stack_app.COOKIE_VALUE_PREFIX,
]


# -- the app served: the full stack, each answer naming its process -------------------------


# An answer that takes this long (a download, a long poll), so that it is still in flight when
# the server is told to stop; answered outside the stack, so never recorded.
SLOW_ANSWER = "/slow-answer"
SLOW_ANSWER_SECONDS = 4.0


class ServedBy:
    """Adds `x-served-by: <pid>` to every HTTP answer, and `x-cookie-fields: <n>`, the number
    of Cookie fields the app was given (a server may join the fields a client split). The
    pid is read per answer: under ``--preload`` the app is built in the master and runs in
    its forked workers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == SLOW_ANSWER:
            await slow_answer(send)
            return
        fields = sum(1 for name, _ in scope["headers"] if name == b"cookie")

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (SERVED_BY.encode(), str(os.getpid()).encode()),
                    (COOKIE_FIELDS.encode(), str(fields).encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_pid)


async def slow_answer(send: Send) -> None:
    """Headers (naming the process) and a first chunk now, the rest `SLOW_ANSWER_SECONDS`
    later."""
    headers = [(SERVED_BY.encode(), str(os.getpid()).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"first ", "more_body": True})
    await asyncio.sleep(SLOW_ANSWER_SECONDS)
    await send({"type": "http.response.body", "body": b"last"})


def create_app() -> ServedBy:
    """Served as ``tests.test_production_servers:create_app()`` (settings: FULLSTACK_*)."""
    return ServedBy(full_stack_app.create_app())


APP_FACTORY_CALL = "tests.test_production_servers:create_app()"


# -- servers ----------------------------------------------------------------------------------


def version_of(distribution: str) -> tuple[int, int]:
    major, minor = metadata.version(distribution).split(".")[:2]
    return int(major), int(minor)


def needs(module: str, server: str, install: str | None = None) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{server} needs the {module!r} module: {install or f'pip install {module}'}")


# gunicorn's worker class for an ASGI app, and the one uvicorn 0.54 still ships but deprecates.
WORKER = "uvicorn_worker.UvicornWorker"
DEPRECATED_WORKER = "uvicorn.workers.UvicornWorker"
WORKER_INSTALL = {
    WORKER: "pip install uvicorn-worker",
    DEPRECATED_WORKER: "removed from this uvicorn; use uvicorn_worker.UvicornWorker",
}
DEPRECATION_NOTICE = "The `uvicorn.workers` module is deprecated"


def serve(
    argv: Sequence[str], port: int, env: Mapping[str, str]
) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    return serve_command(argv, port, env, stop_timeout=60.0)


def gunicorn_server(
    env: Mapping[str, str],
    *,
    preload: bool,
    worker_class: str = WORKER,
    app: str = APP_FACTORY_CALL,
) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    needs("gunicorn", "gunicorn")
    needs(
        worker_class.rpartition(".")[0], f"gunicorn -k {worker_class}", WORKER_INSTALL[worker_class]
    )
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        worker_class,
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "20",
        "--log-level",
        "warning",
        *(["--preload"] if preload else []),
        # gunicorn >= 25.1 opens a control socket under $HOME unless told not to.
        *(["--no-control-socket"] if version_of("gunicorn") >= (25, 1) else []),
        app,
    ]
    return serve(argv, port, env)


def hypercorn_server(
    env: Mapping[str, str], workers: int | None = None
) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    needs("hypercorn", "hypercorn")
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "hypercorn",
        *(["--workers", str(workers)] if workers is not None else []),
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "20",
        APP_FACTORY_CALL,
    ]
    return serve(argv, port, env)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a process manager stops a server; its exit status."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


# A single uvicorn process re-raises the signal it caught once its graceful shutdown is done
# (uvicorn/server.py, `_captured_signals`), so that a process manager sees why it stopped.
GRACEFUL_UVICORN_EXIT = -signal.SIGTERM


def children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


# -- load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection failed (a killed worker's requests in flight)
    served_by: int | None


async def send_pages(
    base_url: str,
    paths: Sequence[str],
    *,
    concurrency: int = 16,
    after_each: Callable[[int], None] | None = None,
) -> dict[str, Answer]:
    """GET every path with bounded concurrency, each on a new connection so that the kernel
    hands connections to every worker; `after_each(answered so far)` runs after each one."""
    limit = asyncio.Semaphore(concurrency)
    answers: dict[str, Answer] = {}

    async def one(client: httpx.AsyncClient, path: str) -> None:
        async with limit:
            try:
                response = await client.get(path, headers={"user-agent": USER_AGENT})
                pid = response.headers.get(SERVED_BY)
                answers[path] = Answer(response.status_code, int(pid) if pid else None)
            except httpx.TransportError:
                answers[path] = Answer(None, None)
            if after_each is not None:
                after_each(len(answers))

    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=no_reuse) as client:
        await asyncio.gather(*(one(client, path) for path in paths))
    return answers


# -- what the spool and the warehouse hold ----------------------------------------------------


def spooled(spool: Path) -> Counter[tuple[str, str]]:
    """(path, consent) of every event in a sealed segment, counted."""
    return Counter(
        (row["path"], row["consent"])
        for segment in list_segments(spool)
        for row in read_segment(segment.path).select(["path", "consent"]).to_pylist()
    )


def spooled_paths(spool: Path) -> Counter[str]:
    return Counter(path for path, _ in spooled(spool).elements())


def segment_pid(name: str) -> int:
    """The writer's pid in a segment's file name (``<ms>-<host>-<pid>-<n>-<random>``)."""
    return int(Path(name).name.removeprefix(TEMP_PREFIX).split("-")[2])


def temp_files(spool: Path) -> list[Path]:
    """Temporary segment files (a salt's temporary file, in ``salts/``, is `salt_temp_files`)."""
    return sorted(
        p for p in spool.rglob(f"{TEMP_PREFIX}*") if "salts" not in p.relative_to(spool).parts
    )


def salt_temp_files(spool: Path) -> list[Path]:
    return sorted((spool / "salts").glob(f"{TEMP_PREFIX}*"))


def salt_temp_pid(path: Path) -> int:
    """The maker's pid in a salt's temporary file name (``.tmp-<pid>-<random>``)."""
    return int(path.name.removeprefix(TEMP_PREFIX).split("-")[0])


def tracebacks(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Traceback")]


def ingest(spool: Path, db: Path) -> tuple[int, Counter[str]]:
    """Run the warehouse over the spool: (events ingested, paths in `events` counted)."""
    result = Warehouse(db).run(spool)
    assert result.ingest.quarantined == ()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT path, count(*) FROM events GROUP BY path").fetchall()
    return result.ingest.events, Counter({path: count for path, count in rows})


def cookie_names(response: httpx.Response) -> set[str]:
    return {h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")}


def has_banner(response: httpx.Response) -> bool:
    return "data-cookiewall" in response.text


# -- 1. uvicorn with httptools and uvloop -----------------------------------------------------

# (visitor, what it posts to /consent, the page cookies it then gets, its events' `consent`)
CHOICES: list[tuple[str, dict[str, str | list[str]], set[str], str]] = [
    ("accepts-all", {"action": "accept_all"}, ALL_PAGE_COOKIES, "all"),
    ("rejects-all", {"action": "reject_all"}, {"session"}, "none"),
    (
        "keeps-preferences",
        {"action": "save", "categories": ["preferences"]},
        {"session", "theme"},
        "custom",
    ),
    (
        "allows-counting",
        {"action": "save", "categories": ["analytics"]},
        {"session", "_ga_T1"},
        "custom",
    ),
    ("saves-nothing", {"action": "save"}, {"session"}, "none"),
]


async def visit_decide_return(base_url: str) -> tuple[dict[tuple[str, str], int], list[str]]:
    """Each visitor: a first page (banner), the consent form, two pages as a returning visitor.
    Returns the page views expected in the spool, and the consent cookie values given out."""
    expected: dict[tuple[str, str], int] = {}
    consent_values = []
    for visitor, form, allowed, consent in CHOICES:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            client.headers["user-agent"] = USER_AGENT
            first = await client.get(f"/{visitor}/first?utm_source=news&token={QUERY_SECRET}")
            assert first.status_code == 200
            assert has_banner(first), visitor
            assert cookie_names(first) == {"session"}, visitor  # nothing else before consent
            assert "cookie" in first.headers["vary"].lower()
            expected[(f"/{visitor}/first", "undecided")] = 1

            decided = await client.post(
                "/consent",
                data={**form, "next": f"/{visitor}/welcome-back"},
                headers={"origin": base_url.rstrip("/")},  # as a browser posts the site's form
            )
            assert decided.status_code == 303, (visitor, decided.text)
            assert decided.headers["location"] == f"/{visitor}/welcome-back"
            (set_consent,) = decided.headers.get_list("set-cookie")
            assert set_consent.startswith("cookiewall=")
            assert "HttpOnly" in set_consent
            assert "SameSite=Lax" in set_consent
            consent_values.append(client.cookies["cookiewall"])

            for page in ("welcome-back", f"again?token={QUERY_SECRET}"):
                returning = await client.get(f"/{visitor}/{page}")
                assert returning.status_code == 200
                assert not has_banner(returning), visitor
                assert cookie_names(returning) == allowed, visitor
                expected[(f"/{visitor}/{page.split('?')[0]}", consent)] = 1
    return expected, consent_values


def mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_uvicorn_httptools_uvloop_gate_records_and_flushes_on_sigterm(tmp_path: Path) -> None:
    needs("uvloop", "uvicorn --loop uvloop")
    needs("httptools", "uvicorn --http httptools")
    var = tmp_path / "var"
    env = {"FULLSTACK_VAR": str(var), "FULLSTACK_FLUSH_INTERVAL": "3600"}
    with uvicorn_server(
        APP_FACTORY_CALL.removesuffix("()"),
        env=env,
        factory=True,
        extra_args=("--http", "httptools", "--loop", "uvloop"),
    ) as (base_url, proc):
        expected, consent_values = asyncio.run(visit_decide_return(base_url))
        # The C parts really serve: their extension modules are loaded in the server.
        libraries = mapped_libraries(proc.pid)
        assert "/uvloop/loop." in libraries
        assert "/httptools/parser/" in libraries
        assert not list((var / "spool").rglob("*.parquet"))  # all still buffered...
        assert stop(proc) == GRACEFUL_UVICORN_EXIT

    spool = var / "spool"
    assert spooled(spool) == expected  # ...and flushed by the graceful stop, each once
    assert temp_files(spool) == []
    assert leaks_in(var, [*NEVER_STORED, *consent_values]) == []


# -- 2. gunicorn with two uvicorn workers ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("worker_class", [WORKER, DEPRECATED_WORKER])
@pytest.mark.parametrize("preload", [False, True], ids=["imported-per-worker", "preload-fork"])
def test_gunicorn_two_workers_sigterm_every_request_once_in_spool_and_warehouse(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], preload: bool, worker_class: str
) -> None:
    requests = 400
    var = tmp_path / "var"
    spool = var / "spool"
    env = {
        "FULLSTACK_VAR": str(var),
        "FULLSTACK_FLUSH_INTERVAL": "3600",
        # Shown, so that the test sees which worker class warns (Python hides them by default).
        "PYTHONWARNINGS": "default::DeprecationWarning",
    }
    paths = [f"/gunicorn/{n}" for n in range(requests)]
    with gunicorn_server(env, preload=preload, worker_class=worker_class) as (base_url, master):
        answers = asyncio.run(send_pages(base_url, paths))
        workers = children(master.pid)
        assert not list(spool.rglob("*.parquet"))  # all still buffered in the workers
        assert stop(master) == 0

    stderr = capfd.readouterr().err
    assert tracebacks(stderr) == []
    # The maintained worker class is the one that does not warn.
    assert (DEPRECATION_NOTICE in stderr) == (worker_class == DEPRECATED_WORKER)
    assert {a.status for a in answers.values()} == {200}
    assert len(workers) == 2
    served = Counter(a.served_by for a in answers.values())
    assert set(served) == workers, served  # both workers served, and only they
    # SIGTERM to the master: each worker's lifespan shutdown flushed what it had, once.
    assert spooled_paths(spool) == Counter(paths)
    names = [segment.name for segment in list_segments(spool)]
    assert len(set(names)) == len(names)
    assert {segment_pid(name) for name in names} == workers  # each worker its own files
    assert temp_files(spool) == []
    assert salt_temp_files(spool) == []

    events, ingested = ingest(spool, tmp_path / "analytics.duckdb")
    assert events == requests
    assert ingested == Counter(paths)
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as con:
        pageviews, visitors = con.execute(
            "SELECT (SELECT sum(pageviews) FROM daily_totals),"
            " (SELECT count(DISTINCT visitor_id) FROM events)"
        ).fetchall()[0]
    assert pageviews == requests
    # One client, one day: both workers (forked or not) hash it with the one shared salt.
    assert visitors == 1


async def served_by(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return int((await client.get("/pid")).headers[SERVED_BY])  # not a page: not recorded


def wait_for_worker(base_url: str, pid: int, timeout: float = 30.0) -> None:
    """Until `pid` answers a request (each on a new connection, so any worker may take it)."""
    deadline = time.monotonic() + timeout
    while asyncio.run(served_by(base_url)) != pid:
        if time.monotonic() > deadline:
            raise AssertionError(f"worker {pid} answered nothing within {timeout}s")


def wait_for_workers(base_url: str, count: int, timeout: float = 30.0) -> set[int]:
    """Until `count` processes have answered (a worker that is still importing the app takes
    no connection, and load sent then would all go to the others); their pids."""
    deadline = time.monotonic() + timeout
    answered: set[int] = set()
    while len(answered) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} workers did not answer within {timeout}s: {answered}")
        answered.add(asyncio.run(served_by(base_url)))
    return answered


@pytest.mark.slow
@pytest.mark.parametrize("preload", [False, True], ids=["imported-per-worker", "preload-fork"])
def test_gunicorn_worker_sigkilled_under_load_is_replaced_and_loses_only_its_own_buffer(
    tmp_path: Path, preload: bool
) -> None:
    per_phase, kill_after = 500, 200
    var = tmp_path / "var"
    spool = var / "spool"
    # Flushing often, so that the kill may land between, or inside, the victim's writes.
    env = {"FULLSTACK_VAR": str(var), "FULLSTACK_FLUSH_INTERVAL": "0.2"}
    before = [f"/killed/before-restart/{n}" for n in range(per_phase)]
    after = [f"/killed/after-restart/{n}" for n in range(per_phase)]
    with gunicorn_server(env, preload=preload) as (base_url, master):
        wait_until(lambda: len(children(master.pid)) == 2, "gunicorn started two workers")
        workers = children(master.pid)
        assert wait_for_workers(base_url, 2) == workers  # both take connections before the kill
        victim = min(workers)

        def kill_victim(answered: int) -> None:
            if answered == kill_after:
                os.kill(victim, signal.SIGKILL)

        answers = asyncio.run(send_pages(base_url, before, after_each=kill_victim))
        wait_until(
            lambda: len(children(master.pid) - workers) == 1 and len(children(master.pid)) == 2,
            "gunicorn replaced the killed worker",
        )
        (replacement,) = children(master.pid) - workers
        wait_for_worker(base_url, replacement)
        answers |= asyncio.run(send_pages(base_url, after))
        assert stop(master) == 0

    served = Counter(a.served_by for a in answers.values())
    assert served[victim] > 0, served  # the kill landed mid-load
    assert served[replacement] > 0, served
    assert {answers[p].status for p in after} == {200}  # the replacement and the survivor
    assert {a.status for a in answers.values()} <= {200, None}  # None: died with the victim
    by_victim = {p for p, a in answers.items() if a.served_by == victim}
    survived = {p for p, a in answers.items() if a.status == 200 and a.served_by != victim}

    # No partial segment: every listed one reads in full; a temporary file can only be the
    # victim's, and the warehouse skips it.
    names = [segment.name for segment in list_segments(spool)]
    assert len(set(names)) == len(names)
    assert {segment_pid(name) for name in names} <= workers | {replacement}
    assert {segment_pid(p.name) for p in temp_files(spool)} <= {victim}
    # A salt's temporary name too: the victim may die while it makes the day's salt.
    assert {salt_temp_pid(p) for p in salt_temp_files(spool)} <= {victim}
    assert sum(spooled_paths(spool).values()) >= len(survived)

    events, ingested = ingest(spool, tmp_path / "analytics.duckdb")
    assert set(ingested.values()) == {1}  # nothing twice
    assert events == len(ingested) <= len(answers)
    assert set(ingested) <= set(answers)
    assert survived <= set(ingested)  # every request the other workers answered is there
    lost = {p for p, a in answers.items() if a.status == 200} - set(ingested)
    assert lost <= by_victim  # only what the killed worker had not flushed yet
    print(
        f"\ngunicorn preload={preload}: {len(answers)} sent, {served[victim]} answered by the "
        f"killed worker, {len(lost)} of them lost, {events} ingested"
    )


# -- 3. hypercorn, HTTP/1.1 and cleartext HTTP/2 ------------------------------------------------

# HTTP/2 lets a client send Cookie as several fields (RFC 9113 8.2.3); HTTP/1.1 clients and
# proxies may too. (visitor, the Cookie fields, the page cookies then allowed, `consent`), where
# {accepted}, {rejected}, {custom} are consent cookies given out by the server, {accepted}
# decided after the other two.
SPLIT_COOKIES: list[tuple[str, list[str], set[str], str]] = [
    ("no-consent", ["session=s1", "theme=dark"], {"session"}, "undecided"),
    (
        "accepted-in-the-middle",
        ["session=s1", "cookiewall={accepted}", "theme=dark"],
        ALL_PAGE_COOKIES,
        "all",
    ),
    ("rejected-in-the-first", ["cookiewall={rejected}", "theme=dark"], {"session"}, "none"),
    (
        "custom-in-the-last",
        ["a=1", "b=2; c=3", "cookiewall={custom}"],
        {"session", "theme"},
        "custom",
    ),
    ("newest-first", ["cookiewall={accepted}", "cookiewall={rejected}"], ALL_PAGE_COOKIES, "all"),
    (
        "newest-last",
        ["cookiewall={rejected}", "x=1", "cookiewall={accepted}"],
        ALL_PAGE_COOKIES,
        "all",
    ),
    (
        "tampered-beside-valid",
        ["cookiewall={accepted}x", "cookiewall={custom}"],
        {"session", "theme"},
        "custom",
    ),
]
ACCEPTED_AT_LEAST_A_SECOND_LATER = 1.1  # decisions are dated to the second


async def consent_cookie(client: httpx.AsyncClient, form: dict[str, str | list[str]]) -> str:
    client.cookies.clear()
    origin = f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"
    response = await client.post("/consent", data=form, headers={"origin": origin})
    assert response.status_code == 303
    value: str = response.cookies["cookiewall"]
    return value


async def split_cookie_visits(
    base_url: str, http2: bool
) -> tuple[dict[tuple[str, str], int], list[str]]:
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, http1=not http2, http2=http2
    ) as client:
        client.headers["user-agent"] = USER_AGENT
        rejected = await consent_cookie(client, {"action": "reject_all"})
        custom = await consent_cookie(client, {"action": "save", "categories": ["preferences"]})
        await asyncio.sleep(ACCEPTED_AT_LEAST_A_SECOND_LATER)
        accepted = await consent_cookie(client, {"action": "accept_all"})
        values = {"accepted": accepted, "rejected": rejected, "custom": custom}
        expected = {}
        for visitor, fields, allowed, consent in SPLIT_COOKIES:
            client.cookies.clear()  # only the fields below: no jar adds a Cookie of its own
            headers = [("cookie", field.format(**values)) for field in fields]
            response = await client.get(f"/{visitor}?token={QUERY_SECRET}", headers=headers)
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            assert response.status_code == 200
            # Over HTTP/1.1 the app gets the fields as sent, so the gate itself joins them;
            # over HTTP/2 the server may join them first (hypercorn's h2 does, RFC 9113 8.2.3).
            received = int(response.headers[COOKIE_FIELDS])
            assert received == len(fields) or (http2 and received == 1), (visitor, received)
            assert cookie_names(response) == allowed, visitor
            assert has_banner(response) == (consent == "undecided"), visitor
            expected[(f"/{visitor}", consent)] = 1
    return expected, list(values.values())


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c-prior-knowledge"])
def test_hypercorn_gate_reads_a_cookie_header_split_into_fields_and_shutdown_flushes(
    tmp_path: Path, http2: bool
) -> None:
    if http2:
        needs("h2", "HTTP/2 (hypercorn's server side and httpx's client side)")
    var = tmp_path / "var"
    env = {"FULLSTACK_VAR": str(var), "FULLSTACK_FLUSH_INTERVAL": "3600"}
    with hypercorn_server(env) as (base_url, proc):
        expected, consent_values = asyncio.run(split_cookie_visits(base_url, http2))
        assert not list((var / "spool").rglob("*.parquet"))  # all still buffered...
        assert stop(proc) == 0

    spool = var / "spool"
    assert spooled(spool) == expected  # ...and flushed by the lifespan shutdown, each once
    assert temp_files(spool) == []
    assert leaks_in(var, [*NEVER_STORED, *consent_values]) == []


# -- 4. hypercorn's own workers: -w 2 ----------------------------------------------------------

# hypercorn/run.py starts its workers with multiprocessing's "spawn" context: each is a fresh
# interpreter that imports the app (no fork, so nothing of a parent's Recorder is inherited)
# and serves the socket the parent bound. The parent also starts multiprocessing's resource
# tracker (for the shutdown Event), so it has one child more than it has workers.
#
# How hypercorn 0.18 stops: SIGTERM or SIGINT to the parent sets a shared Event that each
# worker polls every 0.1 s; a worker then closes, waits for its requests in flight and runs
# the lifespan shutdown (where the Recorder writes its buffer). But as soon as the FIRST worker
# has exited, the parent calls `terminate()` (SIGTERM) on the others, and a worker run by the
# parent installs no SIGTERM handler of its own (asyncio/run.py installs them only when there
# is no shutdown Event): a worker still inside its shutdown dies at once, and its buffered
# events with it. The parent still exits 0. Workers ignore SIGINT (inherited SIG_IGN).
HYPERCORN_CUTS_THE_SLOWER_WORKER = (
    "hypercorn <= 0.18 (run.py) SIGTERMs the other workers as soon as the first one has "
    "exited, and its workers have no SIGTERM handler: one still waiting for a request in "
    "flight dies before its lifespan shutdown, so the Recorder never writes its buffer"
)
HYPERCORN_WORKERS_DIE_ON_SIGTERM = (
    "hypercorn <= 0.18 workers run with SIGTERM's default action (no handler when started by "
    "the parent): SIGTERM to every process (systemd's default KillMode=control-group, "
    "supervisord's stopasgroup) kills them before their lifespan shutdown"
)


def buffered_until_stop_env(var: Path) -> dict[str, str]:
    """The app's settings for a stop test: no timed flush, so the stop writes everything."""
    return {"FULLSTACK_VAR": str(var), "FULLSTACK_FLUSH_INTERVAL": "3600"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGTERM-to-the-parent", "Ctrl-C-SIGINT-to-the-process-group"],
)
def test_hypercorn_two_spawned_workers_share_the_salt_and_a_stop_writes_nothing_twice(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], signum: signal.Signals, to_group: bool
) -> None:
    requests = 400
    var = tmp_path / "var"
    spool = var / "spool"
    paths = [f"/hypercorn-w/{n}" for n in range(requests)]
    with hypercorn_server(buffered_until_stop_env(var), workers=2) as (base_url, parent):
        workers = wait_for_workers(base_url, 2)
        assert parent.pid not in workers
        assert workers < children(parent.pid)  # and multiprocessing's resource tracker
        answers = asyncio.run(send_pages(base_url, paths))
        assert not list(spool.rglob("*.parquet"))  # all still buffered in the workers
        if to_group:
            os.killpg(parent.pid, signum)
        else:
            parent.send_signal(signum)
        assert parent.wait(timeout=60) == 0

    assert tracebacks(capfd.readouterr().err) == []
    assert {a.status for a in answers.values()} == {200}
    share = {pid: Counter(p for p, a in answers.items() if a.served_by == pid) for pid in workers}
    assert all(share.values()), share  # both workers served
    spooled_now = spooled_paths(spool)
    assert set(spooled_now.values()) <= {1}  # nothing twice
    names = [segment.name for segment in list_segments(spool)]
    assert len(set(names)) == len(names)
    # Each worker wrote its own files, and wrote its whole share or (hypercorn cut its
    # shutdown short, see HYPERCORN_CUTS_THE_SLOWER_WORKER) none of it; never a part.
    wrote = {segment_pid(name) for name in names}
    assert wrote <= workers
    assert spooled_now == sum((share[pid] for pid in wrote), Counter())
    assert {segment_pid(p.name) for p in temp_files(spool)} <= workers - wrote
    assert salt_temp_files(spool) == []
    if wrote != workers:
        print(f"\nhypercorn cut worker(s) {workers - wrote}: {requests - len(spooled_now)} lost")

    events, ingested = ingest(spool, tmp_path / "analytics.duckdb")
    assert events == sum(spooled_now.values())
    assert ingested == spooled_now
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as con:
        ((visitors,),) = con.execute("SELECT count(DISTINCT visitor_id) FROM events").fetchall()
    # One client: two spawned workers, each making the day's salt if it is missing, hash it
    # with the same salt (one wins the race to create it, the other reads the winner's).
    assert visitors == 1


async def load_then_stop_during_a_slow_answer(
    base_url: str, paths: Sequence[str], stop_server: Callable[[], None]
) -> tuple[dict[str, Answer], int, bool]:
    """The pages, then a slow answer still in flight when `stop_server()` runs: (the pages'
    answers, the pid that serves the slow answer, whether it arrived whole)."""
    answers = await send_pages(base_url, paths)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
        client.stream("GET", SLOW_ANSWER) as response,
    ):
        slow_pid = int(response.headers[SERVED_BY])
        stop_server()
        try:
            body = await response.aread()
        except httpx.TransportError:
            return answers, slow_pid, False
    return answers, slow_pid, body == b"first last"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=HYPERCORN_CUTS_THE_SLOWER_WORKER)
def test_hypercorn_two_workers_sigterm_with_an_answer_in_flight_loses_nothing(
    tmp_path: Path,
) -> None:
    """What a deployment needs and hypercorn -w 2 does not give (strict xfail: when a
    hypercorn release does, this fails and the README's warning can go). The worker with the
    answer in flight is the slower to stop, deterministically."""
    var = tmp_path / "var"
    spool = var / "spool"
    paths = [f"/in-flight/{n}" for n in range(200)]
    with hypercorn_server(buffered_until_stop_env(var), workers=2) as (base_url, parent):
        workers = wait_for_workers(base_url, 2)
        answers, slow_pid, whole = asyncio.run(
            load_then_stop_during_a_slow_answer(
                base_url, paths, lambda: parent.send_signal(signal.SIGTERM)
            )
        )
        assert parent.wait(timeout=60) == 0  # hypercorn reports a clean stop either way

    assert {a.status for a in answers.values()} == {200}
    assert {a.served_by for a in answers.values()} == workers
    assert slow_pid in workers
    lost = Counter(paths) - spooled_paths(spool)
    lost_by = Counter(answers[p].served_by for p in lost)
    assert not lost, (
        f"{sum(lost.values())} events lost, answered by {dict(lost_by)};"
        f" the slow answer was {slow_pid}'s"
    )
    assert whole  # the answer in flight was finished within the graceful timeout
    assert temp_files(spool) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "workers",
    [
        pytest.param(0, id="w0-one-process"),
        pytest.param(
            1,
            id="w1-the-default",
            marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason=HYPERCORN_WORKERS_DIE_ON_SIGTERM
            ),
        ),
        pytest.param(
            2,
            id="w2",
            marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason=HYPERCORN_WORKERS_DIE_ON_SIGTERM
            ),
        ),
    ],
)
def test_hypercorn_sigterm_to_every_process_loses_nothing(tmp_path: Path, workers: int) -> None:
    """systemd stops a service with SIGTERM to every process of its cgroup (the default
    KillMode=control-group), supervisord with `stopasgroup`. Even without ``-w`` hypercorn
    serves from one spawned worker process (``--workers`` defaults to 1); only ``-w 0`` serves
    in the process that was started, which handles SIGTERM itself."""
    var = tmp_path / "var"
    paths = [f"/every-process/{n}" for n in range(100)]
    with hypercorn_server(buffered_until_stop_env(var), workers=workers) as (base_url, parent):
        served = wait_for_workers(base_url, max(workers, 1))
        assert (served == {parent.pid}) == (workers == 0)
        answers = asyncio.run(send_pages(base_url, paths))
        os.killpg(parent.pid, signal.SIGTERM)
        assert parent.wait(timeout=60) == 0  # hypercorn reports a clean stop either way

    assert {a.status for a in answers.values()} == {200}
    assert spooled_paths(var / "spool") == Counter(paths)


# -- 5. two workers stopped the way systemd stops them: uvicorn -w 2, gunicorn -w 2 ------------

# uvicorn's own supervisor (uvicorn/supervisors/multiprocess.py, 0.54) binds the socket in the
# parent and starts each worker with multiprocessing's "spawn" (uvicorn/_subprocess.py): a fresh
# interpreter that imports the app, builds its own Recorder and runs `Server.run`, which
# catches SIGINT and SIGTERM itself (`Server.capture_signals`) and shuts down gracefully, the
# lifespan shutdown included. The parent's handlers only queue a signal; its loop looks at the
# queue every 0.5 s and on SIGTERM or SIGINT sends SIGTERM to every worker, joins them and
# returns from `uvicorn.main`: it exits 0. A worker re-raises the SIGTERM it caught once its
# shutdown is done, so it dies by SIGTERM, which only its parent sees. A SIGTERM that reaches
# every process at once (systemd's default KillMode=control-group) makes each worker shut down
# on its own, and the parent's second SIGTERM a moment later only repeats the request (a second
# SIGINT, not SIGTERM, would force the exit: `Server.handle_exit`).
#
# gunicorn's worker (uvicorn_worker.UvicornWorker) runs the same `Server.serve`, so a worker
# that gets systemd's SIGTERM directly also shuts down gracefully; the master's own SIGTERM
# (handled at once, `Arbiter.handle_term`) closes the listeners and passes SIGTERM on, which
# the workers are already acting on. The master exits 0.
UVICORN_SUPERVISOR_EXIT = 0


def uvicorn_two_workers(
    env: Mapping[str, str], app: str = APP_FACTORY_CALL
) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    return uvicorn_server(
        app.removesuffix("()"), env=env, workers=2, factory=True, stop_timeout=60.0
    )


# granian (2.8) starts its workers with multiprocessing's start method, "fork" on Linux before
# Python 3.14 (granian/server/mp.py); each loads the app after the fork, so builds its own
# Recorder. Its Rust runtime handles SIGTERM and SIGINT in every worker; the parent passes
# either on as SIGTERM and waits for the workers (no limit unless --workers-kill-timeout), then
# exits 0. `--interface asgi` runs the lifespan shutdown; `asginl` runs none, so the buffer is
# written only by the recorder's exit handler, and a "fork" child ends with os._exit, which runs
# no atexit handler: the recorder hooks multiprocessing's own exit finalizers for that.
def granian_two_workers(
    env: Mapping[str, str], interface: str = "asgi"
) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    needs("granian", "granian")
    port = free_port()
    argv = [
        *(sys.executable, "-m", "granian", "--interface", interface, "--workers", "2"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--factory"),
        APP_FACTORY_CALL.removesuffix("()"),
    ]
    return serve(argv, port, env)


TWO_WORKER_SERVERS: dict[
    str, Callable[[Mapping[str, str]], AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]]
] = {
    "uvicorn-w2": uvicorn_two_workers,
    "gunicorn-w2": lambda env: gunicorn_server(env, preload=False),
    "gunicorn-w2-preload": lambda env: gunicorn_server(env, preload=True),
    "granian-w2": granian_two_workers,
    "granian-w2-asginl": lambda env: granian_two_workers(env, interface="asginl"),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("server", "to_group", "in_flight", "exit_status"),
    [
        ("uvicorn-w2", False, False, UVICORN_SUPERVISOR_EXIT),
        ("uvicorn-w2", True, False, UVICORN_SUPERVISOR_EXIT),
        ("uvicorn-w2", True, True, UVICORN_SUPERVISOR_EXIT),
        # gunicorn with SIGTERM to the master alone: test_gunicorn_two_workers_sigterm_...
        ("gunicorn-w2", True, False, 0),
        ("gunicorn-w2-preload", True, False, 0),
        ("gunicorn-w2", True, True, 0),
        ("granian-w2", False, False, 0),
        ("granian-w2", True, True, 0),
        ("granian-w2-asginl", False, False, 0),
        ("granian-w2-asginl", True, False, 0),
    ],
    ids=[
        "uvicorn-w2-SIGTERM-to-the-parent",
        "uvicorn-w2-SIGTERM-to-every-process",
        "uvicorn-w2-SIGTERM-to-every-process-answer-in-flight",
        "gunicorn-w2-SIGTERM-to-every-process",
        "gunicorn-w2-preload-SIGTERM-to-every-process",
        "gunicorn-w2-SIGTERM-to-every-process-answer-in-flight",
        "granian-w2-SIGTERM-to-the-parent",
        "granian-w2-SIGTERM-to-every-process-answer-in-flight",
        "granian-w2-no-lifespan-SIGTERM-to-the-parent",
        "granian-w2-no-lifespan-SIGTERM-to-every-process",
    ],
)
def test_two_workers_sigterm_to_the_parent_or_to_every_process_loses_nothing(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    server: str,
    to_group: bool,
    in_flight: bool,
    exit_status: int,
) -> None:
    """Each answered request in the spool exactly once, whichever process the SIGTERM reaches
    (systemd's default KillMode=control-group, supervisord's `stopasgroup`: every process of
    the service at once). With an answer in flight (`SLOW_ANSWER`) one worker is still busy
    when the other has exited: the case hypercorn's workers lose (see section 4)."""
    requests = 200
    var = tmp_path / "var"
    spool = var / "spool"
    paths = [f"/{server}/{n}" for n in range(requests)]
    with TWO_WORKER_SERVERS[server](buffered_until_stop_env(var)) as (base_url, parent):
        workers = wait_for_workers(base_url, 2)
        assert parent.pid not in workers
        assert workers <= children(parent.pid)
        # The server runs in a session of its own (serve_command), so the group signal below
        # reaches the parent and its workers and nothing else, as systemd's does.
        assert {os.getpgid(pid) for pid in workers} == {parent.pid}

        def stop_server() -> None:
            if to_group:
                os.killpg(parent.pid, signal.SIGTERM)
            else:
                parent.send_signal(signal.SIGTERM)

        if in_flight:
            answers, slow_pid, whole = asyncio.run(
                load_then_stop_during_a_slow_answer(base_url, paths, stop_server)
            )
            assert slow_pid in workers
            assert whole  # the answer in flight was finished before its worker stopped
        else:
            answers = asyncio.run(send_pages(base_url, paths))
            assert not list(spool.rglob("*.parquet"))  # all still buffered in the workers
            stop_server()
        assert parent.wait(timeout=60) == exit_status

    assert tracebacks(capfd.readouterr().err) == []
    assert {a.status for a in answers.values()} == {200}
    served = Counter(a.served_by for a in answers.values())
    assert set(served) == workers, served  # both workers served, and only they
    assert spooled_paths(spool) == Counter(paths)  # every answered request, once
    names = [segment.name for segment in list_segments(spool)]
    assert len(set(names)) == len(names)
    assert {segment_pid(name) for name in names} == workers  # each worker its own files
    if in_flight:
        # The idle worker had written its buffer and exited while the other was still
        # answering: the server let the busy one finish rather than cut it short.
        (idle,) = workers - {slow_pid}
        idle_done = max(segment_written_ms(n) for n in names if segment_pid(n) == idle)
        busy_done = min(segment_written_ms(n) for n in names if segment_pid(n) == slow_pid)
        assert busy_done - idle_done > SLOW_ANSWER_SECONDS * 1000 / 2
    assert temp_files(spool) == []
    assert salt_temp_files(spool) == []

    events, ingested = ingest(spool, tmp_path / "analytics.duckdb")
    assert events == requests
    assert ingested == Counter(paths)


def segment_written_ms(name: str) -> int:
    """When a segment was written, in ms since the epoch (the first field of its name)."""
    return int(Path(name).name.split("-")[0])
