"""Opera Mini on a feature phone (J2ME/MIDP, no operating system named) is a phone.

The README says Opera Mini and the old Opera Mobile count as phones; only the Android rule
looked for them, so a J2ME feature phone's Opera Mini, whose UA names no OS ua-parser knows,
fell through to `other`.
"""

from __future__ import annotations

import pytest

from analytics.useragents import classify_user_agent


@pytest.mark.parametrize(
    "user_agent",
    [
        "Opera/9.80 (J2ME/MIDP; Opera Mini/5.1.21214/28.2725; U; en) Presto/2.8.119 Version/11.10",
        "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) "
        "Presto/2.5.25 Version/10.54",
        "Opera/9.80 (J2ME/MIDP; Opera Mini/4.2.14912/870; U; id) Presto/2.4.15",
        "Opera/9.80 (Series 60; Opera Mini/7.1.32444/191.303; U; en) Presto/2.12.423 Version/12.16",
        "Nokia5310XpressMusic/2.0 (09.42) Profile/MIDP-2.1 Configuration/CLDC-1.1 UNTRUSTED/1.0",
    ],
)
def test_feature_phone_browsers_are_phones(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("mobile", False)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # Controls: desktop Opera stays desktop; an unknown client with no OS stays other.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
            "desktop",
        ),
        ("Opera/9.80 (X11; Linux x86_64) Presto/2.12.388 Version/12.16", "desktop"),
    ],
)
def test_other_opera_builds_keep_their_class(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()).device == device
