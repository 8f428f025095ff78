"""A bad consent cookie is cleared once, not on every response.

A sibling subdomain can plant a consent cookie that does not verify (garbage, a forged
signature, another app's token) with
`Domain=<parent>`, at `Path=/` or any path above a page. The gate's clear for a bad cookie
named only its own copy (host-only, at the site's path), so it never reached the planted
one: the browser sent it back, and the gate sent the useless clear again, on every response
for as long as the planted cookie lived. Every page then carried a `Set-Cookie` and was made
private: a subdomain could make the site's pages uncacheable for shared caches.

Now the first response also expires the `Domain=` copies at every enclosing domain and path
(no cookiewall sets one: it writes the consent cookie host-only), and a value already
cleared gets no clear again (the copy that came back is out of this host's reach). The
visitor's own valid decision still counts beside a planted bad copy.

The browser is modelled by the standard library's cookie jar, as in
`tests/test_withdrawal_expires_every_consent_cookie_copy.py`.
"""

from __future__ import annotations

import asyncio
import time
from http.cookiejar import Cookie

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware, middleware
from cookiewall.consent import ConsentCodec
from tests.apps.full_stack_app import SECRETS, make_policy

HOST = "www.shop.example"
NAME = "cookiewall"
PAGE = "/blog/post"
SHARED = "public, max-age=600"


def _planted_values() -> dict[str, str]:
    own_value, _ = ConsentCodec(make_policy(), SECRETS[0]).new_decision(frozenset({"analytics"}))
    other_key, _ = ConsentCodec(make_policy(), "a-key-this-site-never-had").new_decision(
        frozenset({"analytics"})
    )
    payload, _, signature = own_value.rpartition(".")
    forged = f"{payload}.{'A' * len(signature)}"
    return {
        "garbage": "not-a-token",
        "forged signature": forged,
        "another key": other_key,
    }


PLANTED = _planted_values()
# (Domain attribute as the jar stores it, Path) of a planted copy sent to PAGE.
DOMAIN_COPIES: list[tuple[str | None, str]] = [
    (".shop.example", "/"),
    (".shop.example", "/blog"),
    (".shop.example", "/blog/"),
    (f".{HOST}", "/"),
    (f".{HOST}", "/blog/post"),
]
# Host-only copies (an active attacker on plain http): at the site's path, and below it.
HOST_ONLY_COPIES: list[tuple[str | None, str]] = [(None, "/"), (None, "/blog")]


async def page(request: Request) -> Response:
    consent = request.state.consent
    return PlainTextResponse(consent.summary, headers={"cache-control": SHARED})


def _gate(cookie_name: str = NAME) -> ConsentMiddleware:
    app = Starlette(routes=[Route("/{rest:path}", page)])
    return ConsentMiddleware(app, policy=make_policy(), secret_key=SECRETS, cookie_name=cookie_name)


def _cookie(value: str, domain: str | None, path: str, name: str = NAME) -> Cookie:
    return Cookie(
        version=0, name=name, value=value, port=None, port_specified=False,
        domain=domain or HOST, domain_specified=domain is not None,
        domain_initial_dot=bool(domain), path=path, path_specified=True, secure=False,
        expires=int(time.time()) + 3600, discard=False, comment=None, comment_url=None,
        rest={}, rfc2109=False,
    )  # fmt: skip


def _consent_set_cookies(response: httpx.Response, name: str = NAME) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.split("=", 1)[0] == name]


def _copies(client: httpx.AsyncClient) -> list[tuple[str, str, str | None]]:
    return sorted((c.domain, c.path, c.value) for c in client.cookies.jar if c.name == NAME)


def _pages_with_a_planted_copy(
    value: str, domain: str | None, path: str, *, decide: bool = False, pages: int = 4
) -> tuple[list[httpx.Response], list[tuple[str, str, str | None]], str]:
    """Responses to PAGE for a visitor with a planted copy, what is left in the jar, and the
    visitor's own consent value ("" when undecided)."""

    async def go() -> tuple[list[httpx.Response], list[tuple[str, str, str | None]], str]:
        transport = httpx.ASGITransport(app=_gate(), client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            own = ""
            if decide:
                decided = await client.post(
                    "/consent", json={"action": "save", "categories": ["analytics"]}
                )
                assert decided.status_code == 200
                own = decided.cookies[NAME]
            client.cookies.jar.set_cookie(_cookie(value, domain, path))
            responses = [await client.get(PAGE) for _ in range(pages)]
            return responses, _copies(client), own

    return asyncio.run(go())


@pytest.mark.parametrize(("domain", "path"), DOMAIN_COPIES + HOST_ONLY_COPIES, ids=str)
@pytest.mark.parametrize("kind", PLANTED)
def test_a_bad_copy_gets_no_clear_after_the_first_response(
    kind: str, domain: str | None, path: str
) -> None:
    responses, _, _ = _pages_with_a_planted_copy(PLANTED[kind], domain, path)
    assert [r.text for r in responses] == ["undecided"] * len(responses)
    assert _consent_set_cookies(responses[0])  # the first one tries
    for later in responses[1:]:
        assert _consent_set_cookies(later) == []
        # The app's caching stands: no private, no Vary added for a clear.
        assert later.headers["cache-control"] == SHARED
        assert "vary" not in later.headers


@pytest.mark.parametrize(("domain", "path"), DOMAIN_COPIES, ids=str)
@pytest.mark.parametrize("kind", PLANTED)
def test_the_first_response_expires_a_planted_domain_copy(
    kind: str, domain: str, path: str
) -> None:
    responses, left, _ = _pages_with_a_planted_copy(PLANTED[kind], domain, path, pages=1)
    assert left == []
    assert "private" in responses[0].headers["cache-control"]  # it carried a Set-Cookie


def test_a_bad_copy_at_the_sites_own_path_is_cleared_as_before() -> None:
    responses, left, _ = _pages_with_a_planted_copy(PLANTED["garbage"], None, "/", pages=2)
    assert left == []
    assert _consent_set_cookies(responses[0])[0] == (
        f"{NAME}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    )
    assert _consent_set_cookies(responses[1]) == []


def test_a_host_only_copy_below_the_sites_path_is_left_alone() -> None:
    """It may be the decision of an app mounted there (its own key, `Path=/blog`): expiring it
    would take that decision away. It is read as undecided here and costs no header."""
    responses, left, _ = _pages_with_a_planted_copy(PLANTED["another key"], None, "/blog")
    assert left == [(HOST, "/blog", PLANTED["another key"])]
    assert all(_consent_set_cookies(r) == [] for r in responses[1:])


@pytest.mark.parametrize(("domain", "path"), DOMAIN_COPIES + HOST_ONLY_COPIES[1:], ids=str)
@pytest.mark.parametrize("kind", PLANTED)
def test_the_visitors_own_decision_counts_beside_a_bad_copy(
    kind: str, domain: str | None, path: str
) -> None:
    responses, left, own = _pages_with_a_planted_copy(PLANTED[kind], domain, path, decide=True)
    assert [r.text for r in responses] == ["custom"] * len(responses)
    assert all(_consent_set_cookies(r) == [] for r in responses)
    assert (HOST, "/", own) in left


def test_a_second_bad_value_is_cleared_too() -> None:
    async def go() -> list[list[str]]:
        transport = httpx.ASGITransport(app=_gate())
        cleared = []
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            for value in ("first-garbage", "first-garbage", "second-garbage", "first-garbage"):
                answer = await client.get(PAGE, headers={"cookie": f"{NAME}={value}"})
                cleared.append(_consent_set_cookies(answer))
        return cleared

    first, again, second, once_more = asyncio.run(go())
    assert first
    assert second
    assert again == once_more == []


def test_the_memory_of_cleared_values_is_bounded() -> None:
    """Values are remembered up to MAX_CLEARED_VALUES, oldest forgotten first: a client
    sending a new value per request cannot grow it, and a forgotten one is cleared again."""
    gate = _gate()
    bound = middleware.MAX_CLEARED_VALUES

    async def go() -> tuple[list[str], list[str]]:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            for number in range(bound + 1):
                await client.get(PAGE, headers={"cookie": f"{NAME}=bad-{number}"})
            newest = await client.get(PAGE, headers={"cookie": f"{NAME}=bad-{bound}"})
            oldest = await client.get(PAGE, headers={"cookie": f"{NAME}=bad-0"})
        return _consent_set_cookies(newest), _consent_set_cookies(oldest)

    newest, oldest = asyncio.run(go())
    assert newest == []
    assert oldest
    assert gate.stats["bad_cookies"] == bound + 3  # still counted every time


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_domain_clears_are_bounded(scheme: str) -> None:
    host = ".".join(["a"] * 40) + ".shop.example"
    path = "/a" * 200 + "/page"

    async def go() -> list[str]:
        transport = httpx.ASGITransport(app=_gate())
        async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://{host}") as client:
            answer = await client.get(path, headers={"cookie": f"{NAME}=garbage"})
        return _consent_set_cookies(answer)

    cleared = asyncio.run(go())
    per_jar = 1 + 6 * 8  # the site's own copy; 6 domains at 8 paths
    assert len(cleared) <= (2 * per_jar if scheme == "https" else per_jar)
    assert all("Max-Age=0" in h for h in cleared)
    if scheme == "https":
        assert any(h.endswith("; Partitioned") for h in cleared)
        assert all("; Secure" in h for h in cleared)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "[::1]:8000", "localhost", "evil;Domain=x"])
def test_no_domain_clears_for_a_host_that_is_no_domain(host: str) -> None:
    async def go() -> list[str]:
        transport = httpx.ASGITransport(app=_gate())
        async with httpx.AsyncClient(transport=transport, base_url="http://placeholder") as client:
            answer = await client.get(PAGE, headers={"cookie": f"{NAME}=garbage", "host": host})
        return _consent_set_cookies(answer)

    assert asyncio.run(go()) == [
        f"{NAME}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    ]


def test_a_host_prefixed_name_gets_only_its_own_clear() -> None:
    name = "__Host-consent"

    async def go() -> tuple[list[str], list[str]]:
        transport = httpx.ASGITransport(app=_gate(name))
        async with httpx.AsyncClient(transport=transport, base_url=f"https://{HOST}") as client:
            first = await client.get(PAGE, headers={"cookie": f"{name}=garbage"})
            second = await client.get(PAGE, headers={"cookie": f"{name}=garbage"})
        return _consent_set_cookies(first, name), _consent_set_cookies(second, name)

    first, second = asyncio.run(go())
    assert first == [f"{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure"]
    assert second == []


def test_the_consent_endpoint_answers_the_same_way() -> None:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=_gate())
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
            client.cookies.jar.set_cookie(_cookie("garbage", ".shop.example", "/"))
            first = await client.get("/consent")
            client.cookies.jar.set_cookie(_cookie("garbage", ".shop.example", "/"))  # again
            return [first, await client.get("/consent"), await client.get("/consent")]

    first, second, third = asyncio.run(go())
    assert any("Domain=shop.example" in h for h in _consent_set_cookies(first))
    assert _consent_set_cookies(second) == _consent_set_cookies(third) == []
    assert second.json()["decided"] is False
