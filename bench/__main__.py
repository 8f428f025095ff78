"""`make bench`: every benchmark, one table of figures with their targets.

python -m bench                 # the full run (10M-event rollup: several minutes)
python -m bench --quick         # smaller sizes, for a smoke run
python -m bench --only spool,middleware
python -m bench --only instructions   # counted by valgrind's cachegrind, when installed
python -m bench --only bytecodes      # the interpreter's bytecodes per request, by function
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Figure

OUT = Path(__file__).resolve().parent / "out"


def _suites(quick: bool) -> dict[str, Callable[[], list[Figure]]]:
    def load(module: str, **kwargs: int) -> Callable[[], list[Figure]]:
        def run() -> list[Figure]:
            figures: list[Figure] = importlib.import_module(f"bench.{module}").run(**kwargs)
            return figures

        return run

    return {
        "middleware": load("bench_middleware", requests=10_000 if quick else 40_000),
        # Skipped (a figure saying so) without valgrind.
        "instructions": load("bench_instructions", requests=500 if quick else 2000),
        # Exact and machine-independent: where the request path's interpreted work goes.
        "bytecodes": load("bench_bytecodes", requests=100 if quick else 200),
        "server": load("bench_server", seconds=2 if quick else 5),
        "spool": load("bench_spool", events=100_000 if quick else 300_000),
        "rollup": load("bench_rollup", events=500_000 if quick else 10_000_000),
        "spark": load("bench_spark_figures", events=200_000 if quick else 10_000_000),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(_suites(False)))
    args = parser.parse_args()
    suites = _suites(args.quick)
    chosen = [name for name in args.only.split(",") if name] or list(suites)
    rows = ["| what | how measured | result | target | |", "|---|---|---|---|---|"]
    for name in chosen:
        started = time.monotonic()
        print(f"bench: {name} …", flush=True)
        try:
            figures = suites[name]()
        except Exception as error:  # a missing part must not hide the other figures
            figures = [Figure(name, "failed", f"{type(error).__name__}: {error}", "-", False)]
        for figure in figures:
            rows.append(figure.row())
            print("  " + figure.row(), flush=True)
        print(f"bench: {name} took {time.monotonic() - started:.0f}s", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "latest.md").write_text("\n".join(rows) + "\n")
    print()
    print("\n".join(rows))
    print(f"\n(written to {OUT / 'latest.md'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
