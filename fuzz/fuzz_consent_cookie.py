"""Fuzz the consent cookie: reading the Cookie header and verifying the signed value.

    .venv/bin/python fuzz/fuzz_consent_cookie.py -atheris_runs=100000

Property: never an exception; a value is accepted only if it carries a decision of the
current policy version with known categories (an attacker cannot sign, so in practice never).
"""

from __future__ import annotations

if __package__:
    from fuzz.harness import fuzz, instrumented
else:  # run as a script: python fuzz/fuzz_x.py
    from harness import fuzz, instrumented  # type: ignore[import-not-found,no-redef]

with instrumented(__name__):
    from cookiewall import setcookie
    from cookiewall.consent import ConsentCodec
    from cookiewall.policy import Category, Policy

POLICY = Policy(
    version="2026-11-28",
    categories=[Category("necessary", required=True), Category("analytics")],
)
CODEC = ConsentCodec(POLICY, ["fuzzing-key-number-one", "fuzzing-key-number-two"])
GENUINE = CODEC.new_decision(frozenset({"analytics"}), now=1_790_000_000)[0]
SEEDS = [
    b"",
    b"cookiewall=" + GENUINE.encode(),
    b"a=1; cookiewall=" + GENUINE.encode() + b"; cookiewall=x",
    b"cookiewall=" + GENUINE.encode()[:-4],
    b"cookiewall=eyJ2IjoiMjAyNi0xMS0yOCJ9.AAAA",
    b"cookiewall=.eJwrSS0uAQAEXQHB.AAAA",  # a compressed-looking payload
    b'cookiewall="' + GENUINE.encode() + b'"',
    b"cookiewall=" + b"A" * 5000,
    b"\xff\xfe; cookiewall=\x00\x01",
]


def test_one_input(data: bytes) -> None:
    header = data.decode("latin-1")
    for value in setcookie.request_cookie_values(header, "cookiewall"):
        decision = CODEC.verify(value, now=1_790_000_100)
        if decision is not None:
            assert decision.granted <= POLICY.category_names
            assert value == GENUINE or value.isascii()
    setcookie.request_cookie_names(header)


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
