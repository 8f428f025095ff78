"""Fuzz the Set-Cookie gate with arbitrary header values from an application.

    .venv/bin/python fuzz/fuzz_setcookie.py -atheris_runs=100000

Property: never an exception; for a visitor who allowed only `necessary`, a header passes
only if it names a necessary cookie or expires the cookie (Max-Age <= 0 or a past Expires).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

try:
    import atheris
except ImportError:  # the corpus test runs the targets without atheris
    atheris = None

# Under atheris, the code under test is instrumented for coverage feedback.
with (
    atheris.instrument_imports()
    if atheris is not None and __name__ == "__main__"
    else contextlib.nullcontext()
):
    from cookiewall import setcookie
    from cookiewall.policy import Category, CookieRule, Policy

POLICY = Policy(
    version="1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[CookieRule("session", "necessary"), CookieRule("_ga*", "analytics")],
)
SEEDS = [
    b"session=1",
    b"_ga=1; Max-Age=0",
    b"_ga=1; Max-Age=-1; Max-Age=5",
    b"_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    b"_ga=1; Expires=Sat, 01 Jan 1600 00:00:00 GMT",
    b"_ga=1; Expires=Thu, 01 Jan 1970 00:00 GMT",
    b" _ga_X =1; max-age=00",
    b"_ga",
    b"=_ga",
    b"\x00_ga=1; expires=\xff",
]


def test_one_input(data: bytes) -> None:
    kept, removed, _undeclared = setcookie.filter_headers(
        [(b"set-cookie", data), (b"Set-Cookie", data)], POLICY.required_names, POLICY
    )
    name = setcookie.cookie_name(data)
    rule = POLICY.rule_for(name)
    necessary = rule is not None and rule.category == "necessary"
    if kept:
        assert necessary or setcookie.is_deletion(data), data
    else:
        assert not necessary
    assert len(kept) + len(removed) == 2


def main() -> None:
    assert atheris is not None, "pip install atheris to fuzz"
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):
        # No corpus folder given: start from the seeds (libFuzzer adds what it finds there).
        corpus = tempfile.mkdtemp(prefix="cookiewall-fuzz-")
        for number, seed in enumerate(SEEDS):
            Path(corpus, f"seed-{number}").write_bytes(seed)
        argv.append(corpus)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
