"""`is_listed_suffix`: whether a rule of the Public Suffix List names a host itself, a name no
rule lists (`localhost`) not being one. It stands in for `is_public(host,
accept_unknown=False)`, which publicsuffixlist takes only from 1.1.0 on: under the floor
1.0.0 (`make test-floors`) that call raised TypeError while `analytics.referrers` was being
imported, so `from analytics import Recorder` failed and no page view was recorded."""

from __future__ import annotations

import pytest
from publicsuffixlist import PublicSuffixList

from analytics.referrers import _icann_psl, _psl, is_listed_suffix


@pytest.mark.parametrize(
    ("host", "in_icann", "in_whole_list"),
    [
        ("com", True, True),
        ("co.uk", True, True),
        ("CO.uk.", True, True),  # the list lowercases and drops a trailing dot
        ("рф", True, True),
        ("kobe.jp", True, True),  # the implicit root of the wildcard *.kobe.jp
        ("foo.kobe.jp", True, True),  # under the wildcard
        ("city.kobe.jp", False, False),  # the wildcard's exception: a registrable name
        ("github.io", False, True),  # the private section
        ("example.com", False, False),
        ("www.com", False, False),
        ("a.github.io", False, False),
        ("localhost", False, False),  # unlisted: the list's default would call it a suffix
        ("intranet", False, False),
        ("", False, False),
        ("a..com", False, False),
    ],
)
def test_only_a_name_a_rule_lists_is_a_suffix(
    host: str, in_icann: bool, in_whole_list: bool
) -> None:
    lists: list[tuple[PublicSuffixList, bool]] = [(_icann_psl, in_icann), (_psl, in_whole_list)]
    assert [is_listed_suffix(psl, host) for psl, _ in lists] == [want for _, want in lists]
