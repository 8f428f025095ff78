"""Fuzz referrer normalisation and classification with arbitrary Referer header bytes.

    .venv/bin/python fuzz/fuzz_referrer.py -atheris_runs=100000

Property: never an exception; the host is lower-case with no port, credentials, path or
trailing dot, and the medium is one of the documented ones.
"""

from __future__ import annotations

if __package__:
    from fuzz.harness import fuzz, instrumented
else:  # run as a script: python fuzz/fuzz_x.py
    from harness import fuzz, instrumented  # type: ignore[import-not-found,no-redef]

with instrumented(__name__):
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


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
