"""SPEC section 3 audit: the statements no other test pinned, and the defects found on the way.

Options of the wrong type (a value read from the environment is a string or None) must be a
`ValueError` naming the option at construction, as every other configuration error is; the
consent cookie's attributes follow the options and the policy (SPEC 3.3) for form and JSON
decisions alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cookiewall import Category, ConsentMiddleware, Policy
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy, set_cookies


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called: construction fails first")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        # "false" from the environment was truthy: every cookie Secure, and a 500 on each
        # request that cleared a bad consent cookie (a tuple indexed by the string).
        ("secure", "false", "secure must be None"),
        ("secure", "true", "secure must be None"),
        ("secure", 1, "secure must be None"),
        # os.environ.get("SECRET") for an unset variable: was "'NoneType' object is not
        # iterable", a TypeError that named neither the option nor the cause.
        ("secret_key", None, "environment variable"),
        ("secret_key", 1234567890123456789, "secret_key must be a string"),
        # A path where the log belongs: was AttributeError "'str' object has no attribute
        # 'keep_for'".
        ("receipts", "receipts.jsonl", "receipts must be a cookiewall.ReceiptLog"),
        ("same_site", None, "same_site must be a string"),
        ("cookie_name", None, "cookie_name must be a string"),
        ("path_prefix", None, "path_prefix must be a string"),
        ("inject_banner", "false", "inject_banner must be True or False"),
        ("inject_banner", None, "inject_banner must be True or False"),
        ("trusted_origins", None, "trusted_origins must be a list"),
    ],
)
def test_middleware_option_of_wrong_type_is_a_value_error(
    option: str, value: object, message: str
) -> None:
    options: dict[str, Any] = {"policy": make_policy(), "secret_key": SECRET, option: value}
    with pytest.raises(ValueError, match=message):
        ConsentMiddleware(_inner, **options)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("categories", None),
        ("categories", "necessary"),  # was reported as "not 'n'", its first letter
        ("cookies", None),
        ("cookies", "session"),
    ],
)
def test_policy_lists_of_wrong_type_are_value_errors(argument: str, value: object) -> None:
    options: dict[str, Any] = {
        "version": "1",
        "categories": [Category("necessary", required=True)],
        argument: value,
    }
    with pytest.raises(ValueError, match=f"{argument} must be a list, not {value!r}"):
        Policy(**options)


@pytest.mark.parametrize(
    ("secret_key", "accepted"),
    [
        (SECRET, True),
        (SECRET.encode(), True),
        ([SECRET, "older-secret-key-0123456789"], True),
        ((SECRET,), True),
        ([], False),
        ("short", False),
    ],
)
def test_secret_key_forms(secret_key: object, accepted: bool) -> None:
    """What SPEC 3.2 allows (a string, or a list newest first) still works after the check."""
    if accepted:
        ConsentMiddleware(_inner, policy=make_policy(), secret_key=secret_key)  # type: ignore[arg-type]
    else:
        with pytest.raises(ValueError, match="at least 16 characters"):
            ConsentMiddleware(_inner, policy=make_policy(), secret_key=secret_key)  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["form", "json"])
@pytest.mark.parametrize(
    ("options", "base_url", "present", "absent"),
    [
        (
            {},
            "http://testserver",
            ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=15552000"],
            ["Secure"],
        ),
        ({}, "https://testserver", ["Secure", "HttpOnly", "SameSite=Lax"], []),
        ({"secure": False}, "https://testserver", ["HttpOnly", "SameSite=Lax"], ["Secure"]),
        ({"secure": True}, "http://testserver", ["Secure"], []),
        ({"same_site": "strict"}, "http://testserver", ["SameSite=Strict"], ["SameSite=Lax"]),
        ({"same_site": "none"}, "http://testserver", ["SameSite=None", "Secure"], ["SameSite=Lax"]),
        (
            {"policy": make_policy(consent_max_age=timedelta(days=30))},
            "http://testserver",
            ["Max-Age=2592000", "HttpOnly"],
            ["Max-Age=15552000"],
        ),
    ],
)
def test_consent_cookie_attributes_follow_options_and_policy(
    how: str, options: dict[str, Any], base_url: str, present: list[str], absent: list[str]
) -> None:
    app = make_app(**options)
    body: dict[str, Any] = (
        {"data": {"action": "accept_all"}} if how == "form" else {"json": {"action": "accept_all"}}
    )
    response = call(app, "POST", "/consent", base_url=base_url, **body)
    assert response.status_code == (303 if how == "form" else 200)
    attributes = [part.strip() for part in set_cookies(response)["cookiewall"].split(";")]
    for attribute in present:
        assert attribute in attributes
    for attribute in absent:
        assert attribute not in attributes
