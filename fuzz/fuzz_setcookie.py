"""Fuzz the Set-Cookie gate with arbitrary header values from an application.

    .venv/bin/python fuzz/fuzz_setcookie.py -atheris_runs=100000

Property: never an exception; for a visitor who allowed only `necessary`, a header passes
only if it names a necessary cookie or expires the cookie (Max-Age <= 0 or a past Expires).
"""

from __future__ import annotations

if __package__:
    from fuzz.harness import fuzz, instrumented
else:  # run as a script: python fuzz/fuzz_x.py
    from harness import fuzz, instrumented  # type: ignore[import-not-found,no-redef]

with instrumented(__name__):
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


if __name__ == "__main__":
    fuzz(SEEDS, test_one_input)
