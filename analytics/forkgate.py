"""A gate the recorder's threads hold while inside Arrow, which `os.fork` waits for.

A forked child gets a copy of every lock and initialisation guard as it was at that instant,
but only of the thread that forked. If the flusher or writer thread was inside Arrow's C++
then (holding a mutex, or half-way through a first-use initialisation behind a C++ static
guard), the child waits on it forever: seen as a child stuck in `dictionary_encode`, inside
`arrow::internal::tracing::GetTracer`. Python-level state needs no gate: the Recorder rebuilds
its locks and threads in the child (`Recorder._after_fork`).

The threads hold the gate over stretches of Arrow work (milliseconds) and open it around
per-value Python work (`python_section`: parsing user agents can take seconds in a flood of
new ones), so a fork waits milliseconds, and never more than `FORK_WAIT` seconds whatever
happens: a server that forks must not hang on its analytics.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

# The longest a fork waits for the gate (seconds); after that it goes ahead without it.
FORK_WAIT = 5.0

_gate = threading.Lock()
_depth = threading.local()  # how deep the current thread is in arrow_section
_held_for_fork = False


def _level() -> int:
    level: int = getattr(_depth, "level", 0)
    return level


@contextlib.contextmanager
def arrow_section() -> Iterator[None]:
    """Hold the gate (re-entrant within a thread) while the block works in Arrow."""
    level = _level()
    if level == 0:
        _gate.acquire()
    _depth.level = level + 1
    try:
        yield
    finally:
        _depth.level = level
        if level == 0:
            _gate.release()


@contextlib.contextmanager
def python_section() -> Iterator[None]:
    """Open the gate for Python-only work inside an `arrow_section` (a no-op outside one)."""
    level = _level()
    if level == 0:
        yield
        return
    _depth.level = 0
    _gate.release()
    try:
        yield
    finally:
        _gate.acquire()
        _depth.level = level


def _before_fork() -> None:
    global _held_for_fork
    # A thread that forks from inside a section already holds the gate (and never waits).
    _held_for_fork = _level() == 0 and _gate.acquire(timeout=FORK_WAIT)


def _after_fork_in_parent() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _gate.release()


def _after_fork_in_child() -> None:
    global _gate, _held_for_fork
    # A new gate: the child has no other thread, and the old one may be held by a thread
    # that was not copied (when the fork stopped waiting after FORK_WAIT).
    _gate = threading.Lock()
    _held_for_fork = False
    if _level() > 0:  # forked from inside a section: the section's end releases the new gate
        _gate.acquire()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
