"""A withdrawal expires every copy of the consent cookie a browser can send to the endpoint.

A sibling subdomain (or anyone on the site's plain-http path) can plant ("toss") a consent
cookie the gate never set: a genuine "accept all" it minted for itself, written with
`Domain=<parent>` or `Path=/consent`. The browser then sends it beside the visitor's own,
and a withdrawal that expires only the gate's own copy (host-only, at the cookie's path)
leaves the planted one in the jar: on the next page the visitor who withdrew counts as
having accepted everything. The withdrawal must expire the consent cookie at every domain
and path from which it could have reached the endpoint.

The browser is modelled by the standard library's cookie jar (RFC 2965/Netscape rules:
host-only and domain cookies are distinct, a deletion must name the same domain and path),
driven by httpx against the full stack; a Chromium run checks the same with a real jar.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

import httpx
import pytest

from cookiewall import setcookie
from tests.apps.full_stack_app import create_app
from tests.support import ROOT

HOST = "www.shop.example"
NAME = "cookiewall"

DEEP_HOST = "a.b.c.d.e.f.g.h.example.co.uk"
DEEP_HOST_DOMAINS = [
    "example.co.uk",
    "e.f.g.h.example.co.uk",
    "d.e.f.g.h.example.co.uk",
    "c.d.e.f.g.h.example.co.uk",
    "b.c.d.e.f.g.h.example.co.uk",
    DEEP_HOST,
]

# (Domain attribute as the jar stores it, Path): where a tossed copy lives. None: host-only.
TOSSED_AT = [
    (None, "/consent"),
    (".shop.example", "/"),
    (".shop.example", "/consent"),
    (f".{HOST}", "/"),
    (f".{HOST}", "/consent"),
]


def _cookie(value: str, domain: str | None, path: str) -> Cookie:
    return Cookie(
        version=0, name=NAME, value=value, port=None, port_specified=False,
        domain=domain or HOST, domain_specified=domain is not None,
        domain_initial_dot=bool(domain), path=path, path_specified=True, secure=False,
        expires=int(time.time()) + 3600, discard=False, comment=None, comment_url=None,
        rest={}, rfc2109=False,
    )  # fmt: skip


def _consent_copies(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    return sorted((c.domain, c.path) for c in client.cookies.jar if c.name == NAME)


def _withdraw_with_a_tossed_copy(
    tmp_path: Path, domain: str | None, path: str, how: str
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    app = create_app(tmp_path / "var", flush_interval=3600)

    async def go() -> tuple[list[tuple[str, str]], dict[str, Any]]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as mint:
            minted = await mint.post("/consent", json={"action": "accept_all"})
            tossed = minted.cookies[NAME]
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            own = await client.post("/consent", json={"action": "reject_all"})
            assert own.status_code == 200
            client.cookies.jar.set_cookie(_cookie(tossed, domain, path))
            if how == "delete":
                answer = await client.delete("/consent")
                assert answer.status_code == 200
            else:
                answer = await client.post(
                    "/consent", data={"action": "withdraw"}, headers={"origin": f"http://{HOST}"}
                )
                assert answer.status_code == 303
            state = (await client.get("/consent")).json()
            return _consent_copies(client), state

    return asyncio.run(go())


@pytest.mark.parametrize("how", ["delete", "form"])
@pytest.mark.parametrize(("domain", "path"), TOSSED_AT, ids=lambda v: str(v))
def test_a_tossed_consent_cookie_does_not_outlive_the_withdrawal(
    tmp_path: Path, domain: str | None, path: str, how: str
) -> None:
    left, state = _withdraw_with_a_tossed_copy(tmp_path, domain, path, how)
    assert left == []
    assert state["decided"] is False
    assert state["granted"] == ["necessary"]


@pytest.mark.parametrize(
    ("host", "request_path", "expected_domains", "expected_paths"),
    [
        ("www.shop.example", "/consent", ["shop.example", "www.shop.example"], ["/", "/consent"]),
        ("shop.example:8000", "/consent", ["shop.example"], ["/", "/consent"]),
        # The root's dot kept: for host `shop.example.` a browser refuses Domain=shop.example.
        ("SHOP.Example.", "/consent", ["shop.example."], ["/", "/consent"]),
        ("www.shop.example.", "/consent", ["shop.example.", "www.shop.example."],
         ["/", "/consent"]),
        # Never a public suffix: browsers refuse Domain=co.uk (or github.io, the PSL's
        # private section), so no copy lives there, and one that is the host has none.
        ("a.b.example.co.uk", "/m/consent", ["example.co.uk", "b.example.co.uk",
         "a.b.example.co.uk"], ["/", "/m", "/m/", "/m/consent"]),
        ("a.x.github.io", "/consent", ["x.github.io", "a.x.github.io"], ["/", "/consent"]),
        ("co.uk", "/consent", [], ["/", "/consent"]),
        ("github.io", "/consent", [], ["/", "/consent"]),
        # Past the bound (6): the registrable domain and the parents nearest the host, where a
        # sibling (b2.c.d...) plants; no longer co.uk, h.example.co.uk, g.h.example.co.uk, ...
        (DEEP_HOST, "/consent", DEEP_HOST_DOMAINS, ["/", "/consent"]),
        ("127.0.0.1:8000", "/consent", [], ["/", "/consent"]),
        ("[::1]:8000", "/consent", [], ["/", "/consent"]),
        ("localhost", "/consent", [], ["/", "/consent"]),
        ("evil;Domain=x", "/consent", [], ["/", "/consent"]),
        ("a b.example", "/consent", [], ["/", "/consent"]),
        ("", "/consent", [], ["/", "/consent"]),
        ("shop.example", "/a;Path=/x/consent", ["shop.example"], ["/"]),
        ("shop.example", "/a,b/consent", ["shop.example"], ["/"]),
    ],
)  # fmt: skip
def test_places_a_consent_cookie_could_come_from(
    host: str, request_path: str, expected_domains: list[str], expected_paths: list[str]
) -> None:
    assert setcookie.enclosing_domains(host) == expected_domains
    assert setcookie.enclosing_paths(request_path) == expected_paths


def test_places_are_bounded_for_a_crafted_host_and_path() -> None:
    host = ".".join(["a"] * 123) + ".example"  # 253 characters: as long as a DNS name goes
    path = "/a" * 500 + "/consent"
    domains = setcookie.enclosing_domains(host)
    paths = setcookie.enclosing_paths(path)
    assert len(domains) == setcookie.MAX_ENCLOSING_DOMAINS
    assert domains[0] == "a.example"  # the registrable domain, then the nearest the host
    assert domains[-1] == host
    assert all(f".{host}".endswith(f".{domain}") for domain in domains)
    assert len(paths) <= setcookie.MAX_ENCLOSING_PATHS
    assert paths[0] == "/"
    assert paths[-1] == path


@pytest.mark.parametrize("size", [254, 60_000])
def test_a_host_longer_than_a_dns_name_names_no_domain_and_costs_nothing(size: int) -> None:
    """Such a Host is no name a browser keeps cookies for. Splitting a 60 KB one into all its
    parents took a worker 13-17 s and most of a GB, any request carrying a consent cookie."""
    host = ".".join(["a"] * ((size - 7) // 2)) + ".example"  # labels of one letter each
    host = "b" * (size - len(host)) + host  # and one of two, to make up an even size
    assert len(host) == size
    started = time.perf_counter()
    assert setcookie.enclosing_domains(host) == []
    assert setcookie.enclosing_domains(host + ":8000") == []
    assert time.perf_counter() - started < 0.1


def test_a_deep_hosts_withdrawal_expires_the_nearest_parents_and_no_public_suffix() -> None:
    expired = _gate_withdrawal(NAME, f"http://{DEEP_HOST}")
    domains = {h.split("Domain=")[1].split(";")[0] for h in expired if "Domain=" in h}
    assert domains == set(DEEP_HOST_DOMAINS)


# The gate alone needs only itsdangerous; the Public Suffix List comes with the analytics extra.
WITHOUT_THE_LIST = """
import sys
sys.modules["publicsuffixlist"] = None  # `import publicsuffixlist` now fails
from cookiewall import setcookie
print(setcookie.enclosing_domains(sys.argv[1]))
"""


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.shop.example", ["shop.example", "www.shop.example"]),
        # Without the list co.uk cannot be told from example.co.uk, so both are kept, beside
        # the nearest parents (it named co.uk and dropped example.co.uk, which a sibling writes).
        (DEEP_HOST, ["co.uk", "example.co.uk", *DEEP_HOST_DOMAINS[2:]]),
    ],
)
def test_without_the_public_suffix_list_all_but_the_top_level_are_candidates(
    host: str, expected: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_LIST, host],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    assert done.stdout.strip() == repr(expected)


def test_an_ordinary_withdrawal_stays_small(tmp_path: Path) -> None:
    """Only a request that carries the consent cookie gets the extra deletions, and a
    `__Host-` name (which no other domain or path can hold) never does."""
    app = create_app(tmp_path / "var", flush_interval=3600)

    async def go() -> tuple[list[str], list[str]]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            bare = await client.delete("/consent")
            await client.post("/consent", json={"action": "accept_all"})
            decided = await client.delete("/consent")
        return bare.headers.get_list("set-cookie"), decided.headers.get_list("set-cookie")

    bare, decided = asyncio.run(go())
    consent_deletions = [h for h in bare if h.startswith(f"{NAME}=")]
    assert consent_deletions == [
        f"{NAME}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    ]
    withdrawn = [h for h in decided if h.startswith(f"{NAME}=")]
    assert len(withdrawn) == 6  # host-only and 2 domains, at "/" and "/consent"
    assert all("Max-Age=0" in h for h in withdrawn)


def _gate_withdrawal(cookie_name: str, base_url: str, root_path: str = "") -> list[str]:
    from starlette.applications import Starlette

    from cookiewall import ConsentMiddleware
    from tests.apps.full_stack_app import SECRETS, make_policy

    gate = ConsentMiddleware(
        Starlette(), policy=make_policy(), secret_key=SECRETS[0], cookie_name=cookie_name
    )

    async def go() -> list[str]:
        transport = httpx.ASGITransport(app=gate, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            decided = await client.post(f"{root_path}/consent", json={"action": "accept_all"})
            assert decided.status_code == 200
            withdrawn = await client.delete(f"{root_path}/consent")
            assert withdrawn.status_code == 200
        headers = withdrawn.headers.get_list("set-cookie")
        return [h for h in headers if h.split("=", 1)[0] == cookie_name]

    return asyncio.run(go())


def test_a_host_prefixed_name_has_no_other_copies_to_expire() -> None:
    expired = _gate_withdrawal("__Host-consent", f"https://{HOST}")
    assert expired == [
        "__Host-consent=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure"
    ]


def test_over_https_the_partitioned_copies_are_expired_too() -> None:
    expired = _gate_withdrawal(NAME, f"https://{HOST}")
    partitioned = [h for h in expired if h.endswith("; Partitioned")]
    plain = [h for h in expired if not h.endswith("; Partitioned")]
    # host-only and the 2 domains, at "/" and "/consent", each in both jars
    assert len(partitioned) == len(plain) == 6
    assert all("; Secure" in h for h in expired)
    assert "Domain=shop.example" in "".join(partitioned)


def test_under_a_mount_the_mounts_paths_are_covered() -> None:
    expired = _gate_withdrawal(NAME, f"http://{HOST}", root_path="/shop")
    host_only = sorted(h.split("Path=")[1] for h in expired if "Domain=" not in h)
    assert host_only == ["/", "/shop", "/shop/", "/shop/consent"]  # "/", "/shop": as before
    parent = sorted(h.split("Path=")[1].split(";")[0] for h in expired if "Domain=shop." in h)
    assert parent == ["/", "/shop", "/shop/", "/shop/consent"]
