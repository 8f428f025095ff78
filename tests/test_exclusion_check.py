"""The exclusion check keeps no cache of request paths (raw paths may hold reset tokens or
addresses) and decides exactly as `fnmatchcase` over the patterns does."""

from __future__ import annotations

import gc
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import exclusion_check
from analytics.recorder import ALWAYS_EXCLUDED

PATTERN_SETS = [
    ALWAYS_EXCLUDED,
    (*ALWAYS_EXCLUDED, "/admin/*", "/health"),
    (*ALWAYS_EXCLUDED, "*.css", "*.js"),  # no literal prefix: the regex way
    (*ALWAYS_EXCLUDED, "/static/[abc]?/*.png", "/x[!0-9]"),
    (*ALWAYS_EXCLUDED, "?dmin", "/a.b+c(d)|e$"),  # regex metacharacters taken literally
    (*ALWAYS_EXCLUDED, "[]]x", "/[", "*"),  # odd brackets; "*" excludes everything
]
PATHS = [
    "/",
    "/consent",
    "/consent/",
    "/consent/banner",
    "/consentx",
    "/Consent",
    "/.well-known/gpc.json",
    "/admin",
    "/admin/users",
    "/health",
    "/health/",
    "/site.css",
    "/a/b/app.js",
    "/static/a1/x.png",
    "/static/d1/x.png",
    "/xa",
    "/x1",
    "admin",
    "/a.b+c(d)|e$",
    "/aXb+c(d)|e$",
    "]x",
    "/[",
    "/line\nbreak.css",
    "/" + "a" * 5000 + ".css",
]


@pytest.mark.parametrize("patterns", PATTERN_SETS)
@pytest.mark.parametrize("path", PATHS)
def test_the_check_decides_as_fnmatchcase(patterns: tuple[str, ...], path: str) -> None:
    expected = any(fnmatchcase(path, pattern) for pattern in patterns)
    assert exclusion_check(patterns)(path) is expected


@settings(max_examples=300, deadline=None)
@given(
    patterns=st.lists(st.text(alphabet="/ab.*?[]!-x", min_size=1, max_size=8), max_size=4),
    path=st.text(alphabet="/ab.*?[]!-x\n", max_size=12),
)
def test_any_patterns_and_path_decide_as_fnmatchcase(patterns: list[str], path: str) -> None:
    everything = (*ALWAYS_EXCLUDED, *patterns)
    expected = any(fnmatchcase(path, pattern) for pattern in everything)
    assert exclusion_check(everything)(path) is expected


def test_no_request_path_stays_in_memory_as_a_cache_key(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", exclude_paths=["/admin/*"])
    try:
        middleware = TrafficMiddleware(lambda *_: None, recorder=recorder)  # type: ignore[arg-type]
        marker = "/reset/0f1e2d3c4b5a69788796a5b4c3d2e1f0-marker"
        path = "".join(marker)  # a string object of its own, like a request's
        assert middleware.observed_path({"type": "http", "path": path}) == marker
        # Nothing but this test holds it: no cache (a dict, an lru_cache wrapper) does.
        holders = [type(r).__name__ for r in gc.get_referrers(path)]
        assert not {"dict", "list", "_lru_cache_wrapper"} & set(holders), holders
    finally:
        recorder.close()
