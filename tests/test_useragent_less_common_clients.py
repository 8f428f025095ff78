"""Device and bot classes of clients the main tables miss: phone browsers without "Mobile",
headsets and TVs that say "Mobile", and automated clients with no bot token."""

from __future__ import annotations

import pytest

from analytics.useragents import classify_user_agent

_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0"


# Opera Mini (server-side rendering, still common on cheap Android phones) and the old Opera
# Mobile say "Opera Mini"/"Opera Mobi" instead of "Mobile": they were counted as tablets.
@pytest.mark.parametrize(
    "user_agent",
    [
        "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
        "Opera/9.80 (Android; Opera Mini/7.6.40234/191.303; U; en) Presto/2.12.423 Version/12.16",
        "Opera/9.80 (Android 2.3.3; Linux; Opera Mobi/ADR-1111101157; U; es-ES) Presto/2.9.201 "
        "Version/11.50",
    ],
)
def test_opera_mini_and_opera_mobile_on_android_are_phones(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("mobile", False)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # Opera's tablet build says so; Android tablets without Opera stay tablets
        (
            "Opera/9.80 (Android 3.2.1; Linux; Opera Tablet/ADR-1109081720; U; en) "
            "Presto/2.8.149 Version/11.10",
            "tablet",
        ),
        (f"Mozilla/5.0 (Linux; Android 13; SM-X710) {_CHROME} Safari/537.36", "tablet"),
        (f"Mozilla/5.0 (Linux; Android 13; Pixel 7) {_CHROME} Mobile Safari/537.36", "mobile"),
    ],
)
def test_other_android_browsers_keep_their_class(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()) == (device, False)
