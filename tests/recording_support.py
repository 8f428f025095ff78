"""Helpers shared by the recording tests: a capture as the middleware takes it, and what a
recorder wrote to its spool."""

from __future__ import annotations

import time
from typing import Any

from analytics.recorder import Capture, Recorder
from analytics.spool import list_segments, read_segment

SITE = "example.com"
ADDRESS = "198.51.100.77"
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def spooled(recorder: Recorder) -> list[dict[str, Any]]:
    """Every event `recorder` has written, after a flush."""
    recorder.flush()
    return [
        row
        for segment in list_segments(recorder.spool_dir)
        for row in read_segment(segment.path).to_pylist()
    ]


def capture(path: str = "/", **changes: Any) -> Capture:
    """An undecided Firefox visitor's GET of `path` answered 200, now; `changes` replace fields."""
    return Capture(
        time.time(), path, "GET", 200, b"", None, FIREFOX, ADDRESS, None, "undecided", True
    )._replace(**changes)
