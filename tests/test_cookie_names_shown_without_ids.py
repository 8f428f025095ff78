"""Cookie names the gate publishes (the declaration's `undeclared` list, open to anyone) and
logs carry no account number, id or e-mail address: WordPress's `wp-settings-<user id>`,
set behind its login, would tell every visitor which accounts exist. Such parts become `*`;
fixed names keep their shape, so the site still learns which cookie its policy forgets."""

from __future__ import annotations

import pytest

from cookiewall.cookienames import shown_name


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("wp-settings-time-1337", "wp-settings-time-*"),
        ("wp-settings-42", "wp-settings-*"),
        ("last_seen_jane.doe.8812345", "last_seen_jane.doe.*"),
        ("_ga_ABC1234567", "_ga_*"),
        ("_hjSessionUser_123456", "_hjSessionUser_*"),
        ("wordpress_logged_in_5f4dcc3b5aa765d61d8327deb882cf99", "wordpress_logged_in_*"),
        ("AMP_a1b2c3d4e5", "AMP_*"),
        ("seen_jane.doe@example.com", "seen_*"),
        ("jane.doe@example.com_seen", "*_seen"),
        ("cart-1732867200", "cart-*"),
    ],
)
def test_parts_that_name_one_account_are_masked(name: str, shown: str) -> None:
    assert shown_name(name) == shown


@pytest.mark.parametrize(
    "name",
    [
        "PHPSESSID",
        "__Secure-3PSID",
        "1P_JAR",
        "theme_v10",
        "wp-settings-1",
        "cf_clearance",
        "__utma",
        "csrftoken",
        "ab_test_v2",
        "ASP.NET_SessionId",
    ],
)
def test_fixed_names_stay_as_they_are(name: str) -> None:
    assert shown_name(name) == name


def test_per_user_names_become_one_name() -> None:
    # A thousand accounts are one entry, not a thousand (the gate remembers at most 1 024
    # names: per-user names would fill that memory and hide the names that matter).
    assert {shown_name(f"wp-settings-time-{uid}") for uid in range(10, 1010)} == {
        "wp-settings-time-*"
    }
