"""Fuzz referrer normalisation and classification with arbitrary Referer header bytes.

    .venv/bin/python fuzz/fuzz_referrer.py -atheris_runs=100000

Property: never an exception; the host is lower-case with no port, credentials, path or
trailing dot, and the medium is one of the documented ones.
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
    from analytics.event import MEDIUMS
    from analytics.referrers import referrer_parser

PARSE = referrer_parser("example.com")
SEEDS = [
    b"https://www.google.com/search?q=x",
    b"https://user:pw@News.YCombinator.com.:8443/item",
    b"http://[::1]:8080/",
    b"http://192.168.0.1/",
    b"https://xn--bcher-kva.example/",
    b"https://b\xc3\xbccher.example/",
    b"android-app://com.google.android.gm/",
    b"https://example.com/internal",
    b"https://" + b"a." * 300 + b"com",
    b"https://\xff/",
    b"https://foo.github.io/",
]


def test_one_input(data: bytes) -> None:
    referrer = PARSE(data)
    assert referrer.medium in MEDIUMS
    host = referrer.host
    if host is not None and host != "(ip)":
        assert host == host.lower()
        assert not host.endswith(".")
        assert not any(ch in host for ch in ":/@?#"), host


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
