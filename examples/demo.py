"""`make demo`: the example site under simulated traffic, then a rollup and a trend report.

1. starts ``examples.starlette_app`` with uvicorn on 127.0.0.1 (spool, salts, receipts and the
   DuckDB file under ``var/``);
2. sends several weeks of simulated traffic from a few dozen visitors: search, social, AI
   assistant, webmail and blog referrers, UTM links, bots, Global Privacy Control, visitors who
   accept, reject or never decide (each request carries its simulated time in a demo-only
   header, so weeks pass in seconds);
3. stops the server gracefully (the recorder flushes on lifespan shutdown);
4. runs ``python -m analytics rollup`` and prints the referrer trends and sources reports;
5. writes the HTML report to ``var/report.html``.

``--serve`` then leaves the site running at http://127.0.0.1:8000 for a person to click through.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0",
]
PAGES = ["/", "/blog/hello-world", "/blog/privacy-by-design", "/pricing", "/privacy"]

# (referrer, weight in the first week, weight in the last week): weights move linearly over
# the simulated weeks, so the trend report has something rising, falling and new to show.
REFERRERS: list[tuple[str | None, float, float]] = [
    (None, 30, 30),
    ("https://www.google.com/", 25, 25),
    ("https://www.bing.com/search?q=cookiewall", 4, 4),
    ("https://duckduckgo.com/", 5, 6),
    ("https://news.ycombinator.com/item?id=4242", 1, 14),
    ("https://www.reddit.com/r/python/", 8, 2),
    ("https://mastodon.social/@someone/1234", 3, 5),
    ("https://bsky.app/profile/someone", 1, 4),
    ("https://chatgpt.com/", 0, 9),
    ("https://www.perplexity.ai/search/abc", 0, 4),
    ("https://mail.google.com/mail/u/0/", 3, 3),
    ("https://blog.example.org/post/links", 4, 1),
    ("https://www.golem.de/news/datenschutz.html", 2, 2),
    ("https://user:secret@forum.example.net/thread/9", 1, 1),
    ("https://1-best-seo.com/", 2, 2),  # on the referrer-spam list: counted, not recorded
]
CAMPAIGNS = [
    "?utm_source=newsletter&utm_medium=email&utm_campaign=november",
    "?utm_source=mastodon&utm_medium=social&utm_campaign=launch",
    "?ref=producthunt",
]


@dataclass
class Visitor:
    address: str
    user_agent: str
    choice: str  # "accept", "reject", "custom", "undecided"
    gpc: bool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"demo: the example app did not start on port {port}")


def start_server(var: Path, port: int, *, demo_clock: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "COOKIEWALL_VAR": str(var),
        "COOKIEWALL_TRUST_LOCAL_PROXY": "1",
        "PYTHONPATH": str(ROOT),
    }
    if demo_clock:
        env["COOKIEWALL_DEMO_CLOCK"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.starlette_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    wait_for(port)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_visitors(rng: random.Random, count: int) -> list[Visitor]:
    visitors = []
    for index in range(count):
        address = f"2001:db8::{index + 1:x}" if index % 5 == 0 else f"203.0.113.{index + 1}"
        choice = rng.choices(["accept", "reject", "custom", "undecided"], weights=[35, 25, 10, 30])[
            0
        ]
        visitors.append(
            Visitor(
                address=address,
                user_agent=rng.choice(BROWSERS),
                choice=choice,
                gpc=rng.random() < 0.12,
            )
        )
    return visitors


def weighted_referrer(rng: random.Random, progress: float) -> str | None:
    weights = [first + (last - first) * progress for _, first, last in REFERRERS]
    return rng.choices([ref for ref, _, _ in REFERRERS], weights=weights)[0]


def decide(browser: httpx.Client, visitor: Visitor, moment: datetime) -> None:
    """A visitor answers the banner with the no-JavaScript form, as a browser would; the
    consent cookie lands in that visitor's `browser` alone."""
    action = {"accept": "accept_all", "reject": "reject_all", "custom": "save"}[visitor.choice]
    data: dict[str, str | list[str]] = {"action": action, "next": "/"}
    if action == "save":
        data["categories"] = ["preferences"]
    # A browser posting the banner's form from the site's page says where it comes from (the
    # gate refuses a form that names neither this site's Origin nor its Referer: CSRF).
    origin = str(browser.base_url).rstrip("/")
    headers = {**headers_for(visitor, moment, referrer=None), "Origin": origin}
    response = browser.post("/consent", data=data, headers=headers)
    if response.status_code != 303:
        raise RuntimeError(f"the banner's form was answered {response.status_code}, not 303")


def has_decided(browser: httpx.Client) -> bool:
    return any(cookie.name == "cookiewall" for cookie in browser.cookies.jar)


def headers_for(visitor: Visitor, moment: datetime, referrer: str | None) -> dict[str, str]:
    headers = {
        "User-Agent": visitor.user_agent,
        "X-Forwarded-For": visitor.address,
        "X-Demo-Time": moment.isoformat(),
        "Accept-Language": "de-DE,de;q=0.9,en;q=0.5" if visitor.address.endswith("7") else "en",
    }
    if referrer:
        headers["Referer"] = referrer
    if visitor.gpc:
        headers["Sec-GPC"] = "1"
    return headers


def simulate(base_url: str, *, weeks: int, visitors: int, seed: int) -> int:
    rng = random.Random(seed)
    people = make_visitors(rng, visitors)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=7 * weeks)
    sent = 0
    # Each visitor is a browser of its own, with a cookie jar of its own: one client's jar
    # kept the first consent cookie it was given and sent it for every visitor after, so the
    # spool had no undecided or refused pageviews left. One connection pool for all: fast.
    with httpx.HTTPTransport() as transport:

        def browser() -> httpx.Client:
            # Never closed one by one: closing a client closes the transport it shares.
            return httpx.Client(base_url=base_url, timeout=10.0, transport=transport)

        browsers = {visitor.address: browser() for visitor in people}
        for offset in range(7 * weeks):
            day = first_day + timedelta(days=offset)
            progress = offset / max(1, 7 * weeks - 1)
            daily = rng.sample(people, k=max(3, int(len(people) * (0.25 + 0.35 * progress))))
            for visitor in daily:
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(86_400)
                )
                referrer = weighted_referrer(rng, progress)
                page = rng.choice(PAGES)
                if rng.random() < 0.1:
                    page += rng.choice(CAMPAIGNS)
                own = browsers[visitor.address]
                own.get(page, headers=headers_for(visitor, moment, referrer))
                sent += 1
                if visitor.choice != "undecided" and not has_decided(own):
                    decide(own, visitor, moment)
                    sent += 1
                # A second page, found through the site itself.
                if rng.random() < 0.5:
                    own.get(
                        rng.choice(PAGES),
                        headers=headers_for(
                            visitor, moment + timedelta(minutes=2), "https://example.com/"
                        ),
                    )
                    sent += 1
            for bot in rng.sample(BOTS, k=2):
                bot_visitor = Visitor("198.51.100.7", bot, "undecided", False)
                browser().get(  # a crawler keeps no cookies
                    rng.choice(PAGES),
                    headers=headers_for(
                        bot_visitor, datetime(day.year, day.month, day.day, 3, tzinfo=UTC), None
                    ),
                )
                sent += 1
    return sent


def analytics_cli(*args: str) -> None:
    command = [sys.executable, "-m", "analytics", *args]
    print("$ python -m analytics " + " ".join(args), flush=True)
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    if code != 0:
        # The CLI has printed its own one-line reason; a traceback here would only bury it.
        raise SystemExit(f"demo: `python -m analytics {args[0]}` failed (exit {code}); see above")


def main(argv: list[str] | None = None) -> int:
    # No abbreviations (`--ser`): an option added later would change what one means.
    parser = argparse.ArgumentParser(
        prog="make demo", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("--var", default="var", help="folder for spool, salts, receipts, DB")
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--visitors", type=int, default=48)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", action="store_true", help="leave the site running after")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve")
    args = parser.parse_args(argv)

    var = (ROOT / args.var).resolve()
    # A fresh demo each time: the simulated weeks would otherwise be counted twice.
    for name in ("spool", "analytics.duckdb", "analytics.duckdb.wal", "report.html"):
        target = var / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    var.mkdir(parents=True, exist_ok=True)
    db = var / "analytics.duckdb"
    spool = var / "spool"

    port = free_port()
    print(f"demo: starting the example app on http://127.0.0.1:{port}", flush=True)
    server = start_server(var, port, demo_clock=True)
    try:
        started = time.monotonic()
        sent = simulate(
            f"http://127.0.0.1:{port}", weeks=args.weeks, visitors=args.visitors, seed=args.seed
        )
        print(
            f"demo: sent {sent} requests from {args.visitors} simulated visitors over "
            f"{args.weeks} weeks in {time.monotonic() - started:.1f}s",
            flush=True,
        )
    finally:
        stop_server(server)
    print("demo: server stopped gracefully; the recorder flushed its buffer", flush=True)

    spool.mkdir(parents=True, exist_ok=True)
    analytics_cli("rollup", "--spool", str(spool), "--db", str(db))
    yesterday = date.today() - timedelta(days=1)
    span = ("--from", str(yesterday - timedelta(days=13)), "--to", str(yesterday))
    analytics_cli("report", "trends", "--db", str(db), *span)
    analytics_cli("report", "sources", "--db", str(db), *span, "--compare")
    report = var / "report.html"
    analytics_cli(
        "report",
        "referrers",
        "--db",
        str(db),
        "--from",
        str(yesterday - timedelta(days=7 * args.weeks - 1)),
        "--to",
        str(yesterday),
        "--grain",
        "week",
        "--format",
        "html",
        "--output",
        str(report),
    )
    print()
    print("demo: done.")
    print(f"  spool (Parquet segments):  {spool}")
    print(f"  warehouse (DuckDB):        {db}")
    print(f"  consent receipts:          {var / 'receipts.jsonl'}")
    print(f"  HTML report:               {report}")
    print(f"  try: .venv/bin/python -m analytics report referrers --db {db} --compare")

    if args.serve:
        print(f"demo: serving the example site at http://127.0.0.1:{args.port} (Ctrl-C stops)")
        server = start_server(var, args.port, demo_clock=False)
        try:
            server.wait()
        except KeyboardInterrupt:
            stop_server(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
