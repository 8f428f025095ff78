"""Timing helpers and the result record every benchmark returns."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    what: str
    how: str
    result: str
    target: str
    met: bool | None  # None: stated, no target

    def row(self) -> str:
        verdict = {True: "met", False: "MISSED", None: "-"}[self.met]
        return f"| {self.what} | {self.how} | {self.result} | {self.target} | {verdict} |"


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(candidates: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Runs each candidate once per round, in turn (A B C A B C …), so drift in the machine's
    load hits all of them alike; each candidate returns its own measurement."""
    results: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            results[name].append(run())
    return results
