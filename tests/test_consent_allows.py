"""`Consent.allows` answers for every category of the policy and refuses a name the policy does
not have (a typo fails loudly, at an app's first request); the analytics middleware never asks
about a category its policy lacks."""

from __future__ import annotations

import pytest

from analytics.middleware import _consent_of
from cookiewall import Category, Consent, Policy
from cookiewall.consent import ConsentCodec
from tests.test_cookiewall_support import SECRET, call

# --- Consent.allows: a name the policy does not have is a mistake, said at once ----------


def _consents(policy: Policy) -> dict[str, Consent]:
    codec = ConsentCodec(policy, SECRET)
    # One optional category of two or more: a "custom" consent.
    _, some = codec.new_decision(frozenset(sorted(policy.optional_names)[:1]))
    _, every = codec.new_decision(policy.category_names)
    return {
        "undecided": codec.undecided(False),
        "undecided-gpc": codec.undecided(True),
        "custom": codec.decided(some, False),
        "all": codec.decided(every, False),
        "all-gpc": codec.decided(every, True),
    }


WITH_ANALYTICS = Policy(
    "1",
    [
        Category("necessary", required=True),
        Category("analytics"),
        Category("marketing", gpc_opt_out=True),
    ],
)


WITHOUT_ANALYTICS = Policy(
    "1", [Category("necessary", required=True), Category("preferences"), Category("ads")]
)


@pytest.mark.parametrize(
    ("which", "name", "allowed"),
    [
        ("undecided", "necessary", True),
        ("undecided", "analytics", False),
        ("undecided", "marketing", False),
        ("undecided-gpc", "necessary", True),
        ("undecided-gpc", "marketing", False),
        ("custom", "analytics", True),
        ("custom", "marketing", False),
        ("all", "analytics", True),
        ("all", "marketing", True),
        ("all-gpc", "analytics", True),
        ("all-gpc", "marketing", False),
    ],
)
def test_allows_answers_for_every_category_of_the_policy(
    which: str, name: str, allowed: bool
) -> None:
    assert _consents(WITH_ANALYTICS)[which].allows(name) is allowed


@pytest.mark.parametrize("which", ["undecided", "undecided-gpc", "custom", "all", "all-gpc"])
@pytest.mark.parametrize("typo", ["analytic", "Analytics", "preferences", "", "analytics "])
def test_allows_refuses_a_name_the_policy_does_not_have(which: str, typo: str) -> None:
    # A typo silently answered False: the feature it guarded was simply never on.
    consent = _consents(WITH_ANALYTICS)[which]
    with pytest.raises(ValueError, match="is not a category of this policy") as raised:
        consent.allows(typo)
    message = str(raised.value)
    assert repr(typo) in message
    assert "analytics, marketing, necessary" in message  # the names it could have meant
    assert "\n" not in message


def test_a_route_that_asks_about_a_category_the_policy_lacks_fails_loudly() -> None:
    # Through the gate, as an app sees it: the developer's first request shows the typo.
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def view(request: Request) -> JSONResponse:
        return JSONResponse({"theme": request.state.consent.allows("preference")})

    from cookiewall import ConsentMiddleware

    app = ConsentMiddleware(
        Starlette(routes=[Route("/", view)]), policy=WITHOUT_ANALYTICS, secret_key=SECRET
    )
    with pytest.raises(ValueError, match=r"'preference' is not a category.*preferences"):
        call(app, "GET", "/")


@pytest.mark.parametrize(
    ("policy", "which", "expected"),
    [
        # The analytics middleware asks only when the policy has the category.
        (WITHOUT_ANALYTICS, "custom", ("custom", True)),
        (WITHOUT_ANALYTICS, "undecided", ("undecided", True)),
        (WITH_ANALYTICS, "custom", ("custom", True)),
        (WITH_ANALYTICS, "all-gpc", ("custom", False)),
    ],
)
def test_the_analytics_middleware_never_asks_about_a_missing_category(
    policy: Policy, which: str, expected: tuple[str, bool]
) -> None:
    consent = _consents(policy)[which]
    # A ValueError here would be swallowed as ("undecided", False): the visit then miscounted.
    assert _consent_of({"state": {"consent": consent}}) == expected
