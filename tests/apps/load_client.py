"""A bounded load generator for the full stack (run in its own process by tests/test_load.py).

    python -m tests.apps.load_client BASE_URL --requests N --concurrency C --tag T

Sends exactly N page requests, each to a unique path ``/load/<tag>/<kind>/<n>``, cycling
through visitor kinds (undecided, accepted, rejected, custom, GPC, tampered cookie), and
checks every response's Set-Cookie headers against what the policy allows that kind. Prints
one JSON object: counts per status and kind, and the first violations found.
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import json
import sys
import time
from collections import Counter
from typing import Any

import httpx

KINDS = (
    "undecided",
    "accepted",
    "rejected",
    "custom",
    "gpc_undecided",
    "gpc_accepted",
    "tampered",
)
# The page cookies each kind may receive (see tests/apps/full_stack_app.py PAGE_COOKIES).
ALLOWED = {
    "undecided": {"session"},
    "accepted": {"session", "theme", "_ga_T1", "ad_id"},
    "rejected": {"session"},
    "custom": {"session", "theme"},
    "gpc_undecided": {"session"},
    "gpc_accepted": {"session", "theme", "_ga_T1"},
    "tampered": {"session"},
}
# A browser, not a bot: the rollups count bots apart (daily_totals.bot_hits).
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# The `consent` column each kind's events must carry.
RECORDED_CONSENT = {
    "undecided": "undecided",
    "accepted": "all",
    "rejected": "none",
    "custom": "custom",
    "gpc_undecided": "undecided",
    "gpc_accepted": "custom",
    "tampered": "undecided",
}
# Kinds whose events must have no visitor hash (refused analytics, or GPC).
UNLINKED = {"rejected", "custom", "gpc_undecided", "gpc_accepted"}


class _NoCookies(http.cookiejar.CookiePolicy):
    # Each simulated visitor sends exactly the Cookie header it is given: the client must
    # never store what a response sets (that would mix visitors).
    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


def path_for(tag: str, kind: str, number: int) -> str:
    return f"/load/{tag}/{kind}/{number}"


def kind_of(number: int) -> str:
    return KINDS[number % len(KINDS)]


def set_cookie_names(response: httpx.Response) -> list[str]:
    return [v.split("=", 1)[0].strip() for v in response.headers.get_list("set-cookie")]


async def _decide(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/consent", json=body)
    response.raise_for_status()
    for value in response.headers.get_list("set-cookie"):
        name, _, rest = value.partition("=")
        if name == "cookiewall":
            return rest.split(";", 1)[0]
    raise RuntimeError("no consent cookie in the answer to POST /consent")


async def run(base_url: str, total: int, concurrency: int, tag: str) -> dict[str, Any]:
    jar = http.cookiejar.CookieJar(policy=_NoCookies())
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url,
        cookies=jar,
        limits=limits,
        timeout=30,
        headers={"user-agent": BROWSER_UA},
    ) as client:
        accepted = await _decide(client, {"action": "accept_all"})
        rejected = await _decide(client, {"action": "reject_all"})
        custom = await _decide(client, {"action": "save", "categories": ["preferences"]})
        headers_for: dict[str, dict[str, str]] = {
            "undecided": {},
            "accepted": {"cookie": f"cookiewall={accepted}; theme=dark"},
            "rejected": {"cookie": f"other=1; cookiewall={rejected}"},
            "custom": {"cookie": f"cookiewall={custom}"},
            "gpc_undecided": {"sec-gpc": "1"},
            "gpc_accepted": {"cookie": f"cookiewall={accepted}", "sec-gpc": "1"},
            "tampered": {"cookie": f"cookiewall={accepted[:-3]}AAA"},
        }
        statuses: Counter[str] = Counter()
        per_kind: Counter[str] = Counter()
        violations: list[str] = []
        next_number = iter(range(total))

        consent_clears = 0

        async def visitor() -> None:
            nonlocal consent_clears
            for number in next_number:
                kind = kind_of(number)
                try:
                    response = await client.get(
                        path_for(tag, kind, number), headers=headers_for[kind]
                    )
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                statuses[str(response.status_code)] += 1
                per_kind[kind] += 1
                names = set_cookie_names(response)
                page_cookies = {n for n in names if n != "cookiewall"}
                if page_cookies != ALLOWED[kind] and len(violations) < 20:
                    violations.append(f"{kind} #{number}: got {sorted(page_cookies)}")
                if "cookiewall" in names:
                    # A tampered value is cleared once per worker process, then never again
                    # (its copy came back: out of the gate's reach); no other visitor's
                    # consent cookie is ever touched by a page.
                    if kind == "tampered":
                        consent_clears += 1
                    elif len(violations) < 20:
                        violations.append(f"{kind} #{number}: consent cookie header {names}")

        started = time.monotonic()
        await asyncio.gather(*(visitor() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {
        "requests": total,
        "seconds": round(elapsed, 3),
        "statuses": dict(statuses),
        "per_kind": dict(per_kind),
        "violations": violations,
        "consent_clears": consent_clears,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base_url")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tag", required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.base_url, args.requests, args.concurrency, args.tag))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
