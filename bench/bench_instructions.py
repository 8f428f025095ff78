"""1b. Instructions per request in-process, counted by valgrind's cachegrind: a figure no load
on the machine moves.

The time figure (bench_middleware) depends on the machine: the same code gave 1.39-1.50x on
some and 1.73-1.79x on others. Counting instructions says how much work the middlewares add;
the cache simulation's misses per request say how well that work runs on a machine's caches.

One cachegrind run: the process builds the apps and the consent cookie, then forks a child
per variant and request count. A forked child inherits the counts so far, so the difference
of two children of one variant is exactly the work of the extra requests: start-up, imports
and each child's first requests cancel. The children run no recorder thread: a capture's
conversion (the deferred work) is counted apart, by a variant that converts at its end.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.apps import bare_app, full_app
from bench.bench_middleware import (
    BROWSER_HEADERS,
    CHROME_NAVIGATION_HEADERS,
    call,
    consent_cookie,
    loop_only,
    make_scope,
    rewritten_cookies,
)
from bench.common import Figure

SKIPPED = "skipped: valgrind not installed (apt-get install valgrind)"
# The variants, each run at both request counts: the loop alone (an app that only answers),
# the bare app, the full stack (request thread only), the full stack with the conversion of
# its captures, the full stack with a Cookie header new on every request, and the bare app and
# the full stack asked with all the headers of a real browser's navigation.
VARIANTS = ("loop", "bare", "full", "converted", "rewritten", "bare-chrome", "full-chrome")
_ROOT = Path(__file__).resolve().parent.parent

BROWSER = BROWSER_HEADERS


@dataclass(frozen=True)
class Counts:
    """One process's cachegrind totals (all its threads)."""

    instructions: int
    i1_misses: int
    d1_misses: int  # reads and writes

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.instructions - other.instructions,
            self.i1_misses - other.i1_misses,
            self.d1_misses - other.d1_misses,
        )

    def per(self, requests: int) -> tuple[float, float, float]:
        return (
            self.instructions / requests,
            self.i1_misses / requests,
            self.d1_misses / requests,
        )


def parse_cachegrind(text: str) -> Counts:
    """The totals of a cachegrind out-file: its `events:` line names the columns of its
    `summary:` line. ValueError when the file lacks them or was made without --cache-sim."""
    events = re.search(r"^events:(.*)$", text, re.MULTILINE)
    summary = re.search(r"^summary:(.*)$", text, re.MULTILINE)
    if events is None or summary is None:
        raise ValueError("not a cachegrind out-file: no events: or summary: line")
    names = events.group(1).split()
    values = [int(value) for value in summary.group(1).split()]
    if len(names) != len(values):
        raise ValueError("cachegrind summary: line does not match its events: line")
    counts = dict(zip(names, values, strict=True))
    missing = {"Ir", "I1mr", "D1mr", "D1mw"} - counts.keys()
    if missing:
        raise ValueError(
            f"cachegrind out-file without {', '.join(sorted(missing))} (--cache-sim=yes)"
        )
    return Counts(counts["Ir"], counts["I1mr"], counts["D1mr"] + counts["D1mw"])


def per_request(counts: dict[tuple[str, int], Counts], fewer: int, more: int) -> dict[str, Counts]:
    """Each variant's counts for `more - fewer` requests: its two runs' difference."""
    return {
        variant: counts[(variant, more)] - counts[(variant, fewer)]
        for variant in {variant for variant, _ in counts}
    }


def figures(delta: dict[str, Counts], requests: int) -> list[Figure]:
    loop = delta["loop"]

    def net(variant: str) -> Counts:
        return delta[variant] - loop

    bare, full, rewritten = net("bare"), net("full"), net("rewritten")
    bare_chrome, full_chrome = net("bare-chrome"), net("full-chrome")
    conversion = delta["converted"] - delta["full"]
    bare_ir, bare_i1, bare_d1 = bare.per(requests)
    full_ir, full_i1, full_d1 = full.per(requests)
    how = (
        f"valgrind cachegrind (--cache-sim=yes), in-process ASGI loop, the request thread; "
        f"difference of {requests} requests in one run, less the loop's own "
        f"{loop.per(requests)[0] / 1e3:.1f} k"
    )
    return [
        Figure(
            "full stack / bare app, instructions per request",
            how,
            f"{full.instructions / bare.instructions:.2f}x (bare {bare_ir / 1e3:.1f} k, "
            f"full {full_ir / 1e3:.1f} k; the middlewares {(full_ir - bare_ir) / 1e3:.1f} k)",
            "stated",
            None,
        ),
        Figure(
            "the same, cache misses per request",
            "as above; first-level cache misses of cachegrind's simulated caches",
            f"D1 {full.d1_misses / bare.d1_misses:.2f}x (bare {bare_d1:.0f}, full {full_d1:.0f});"
            f" I1 {full.i1_misses / bare.i1_misses:.2f}x (bare {bare_i1:.0f}, full {full_i1:.0f})",
            "stated",
            None,
        ),
        Figure(
            "the same, the Cookie header new on every request",
            "as above; a cookie a script rewrites per page view beside the consent cookie",
            f"{rewritten.instructions / bare.instructions:.2f}x "
            f"({rewritten.per(requests)[0] / 1e3:.1f} k)",
            "stated",
            None,
        ),
        Figure(
            "the same, a real browser's navigation (15 headers and the Cookie)",
            "as above; Chrome's headers for a followed link, where the rows above send the "
            "5 the middlewares read",
            f"{full_chrome.instructions / bare_chrome.instructions:.2f}x "
            f"(bare {bare_chrome.per(requests)[0] / 1e3:.1f} k, "
            f"full {full_chrome.per(requests)[0] / 1e3:.1f} k; the middlewares "
            f"{(full_chrome.instructions - bare_chrome.instructions) / requests / 1e3:.1f} k)",
            "stated",
            None,
        ),
        Figure(
            "deferred work per capture, instructions",
            "as above; conversion of the captures to events (the recorder's thread does it)",
            f"{conversion.per(requests)[0] / 1e3:.1f} k "
            f"({conversion.instructions / bare.instructions:.2f}x the bare app's request)",
            "stated",
            None,
        ),
    ]


def run(requests: int = 2000) -> list[Figure]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return [Figure("instructions per request", "valgrind cachegrind", SKIPPED, "stated", None)]
    fewer = max(100, requests // 2)
    more = fewer + requests
    with tempfile.TemporaryDirectory(prefix="bench-cg-") as folder:
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(_ROOT)}
        command = [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=yes",
            f"--cachegrind-out-file={folder}/cg.%p",
            sys.executable,
            "-m",
            "bench.bench_instructions",
            folder,
            str(fewer),
            str(more),
        ]
        done = subprocess.run(command, env=env, cwd=_ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"cachegrind run failed: {done.stderr.strip()[-500:]}")
        counts: dict[tuple[str, int], Counts] = {}
        for line in Path(folder, "manifest").read_text().splitlines():
            pid, variant, n = line.split()
            counts[(variant, int(n))] = parse_cachegrind(Path(folder, f"cg.{pid}").read_text())
    return figures(per_request(counts, fewer, more), more - fewer)


# --- inside cachegrind ------------------------------------------------------------------------


def _requests(
    app: Any, cookies: list[tuple[bytes, bytes]], n: int, headers: list[tuple[bytes, bytes]]
) -> None:
    async def many() -> None:
        for index in range(n):
            status, _ = await call(app, make_scope("/page", [*headers, cookies[index]]))
            if status != 200:
                raise RuntimeError(f"/page answered {status}")

    asyncio.new_event_loop().run_until_complete(many())


def _child(variant: str, n: int, apps: dict[str, Any], cookies: dict[str, Any]) -> None:
    """One variant's `n` requests, in a forked child; exits the process."""
    status = 1
    try:
        full = apps["full"]
        recorder = full.state.recorder
        # No flusher thread: `add` starts one only while `_thread` is None (the fork just made
        # it None), so the captures stay in the buffer and the count is the request's work.
        recorder._thread = threading.current_thread()
        app = {"loop": loop_only, "bare": apps["bare"], "bare-chrome": apps["bare"]}.get(
            variant, full
        )
        headers = CHROME_NAVIGATION_HEADERS if variant.endswith("-chrome") else BROWSER
        _requests(app, cookies["rewritten" if variant == "rewritten" else "same"], n, headers)
        recorded = ("full", "converted", "rewritten", "full-chrome")
        if variant in recorded and len(recorder._buffer) != n:
            raise RuntimeError(f"{len(recorder._buffer)} captures buffered, not {n}")
        if variant == "converted":
            recorder.convert()
            if recorder._converted_rows != n:
                raise RuntimeError(f"{recorder._converted_rows} events converted, not {n}")
        status = 0
    except BaseException as error:  # reported by the parent: the exit status
        print(f"bench_instructions: {variant} {n}: {error!r}", file=sys.stderr, flush=True)
    finally:
        os._exit(status)


def _main(folder: str, fewer: int, more: int) -> int:
    apps = {"bare": bare_app(), "full": full_app(os.path.join(folder, "spool"))}
    consent = asyncio.new_event_loop().run_until_complete(consent_cookie(apps["full"]))
    cookies = {
        "same": [(b"cookie", consent.encode())] * more,
        "rewritten": rewritten_cookies(consent, more),
    }
    manifest = []
    for variant in VARIANTS:
        for n in (fewer, more):
            pid = os.fork()
            if pid == 0:
                _child(variant, n, apps, cookies)
            _, status = os.waitpid(pid, 0)
            if status != 0:
                return 1
            manifest.append(f"{pid} {variant} {n}")
    Path(folder, "manifest").write_text("\n".join(manifest) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4:  # the process cachegrind runs (see `run`)
        raise SystemExit(_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    for figure in run():
        print(figure.row())
