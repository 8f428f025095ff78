"""Google's link scanner (Google-Safety: it follows the links of mails and chats to judge
them) and Vercel's deployment screenshotter (vercel-screenshot: every page of each
deployment) fetch pages nobody reads: both are bots, whether they name only themselves or
append their name to a browser's user agent. The browsers they copy stay people."""

from __future__ import annotations

import pytest

from analytics.useragents import classify_user_agent

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    "user_agent",
    [
        "Google-Safety",
        f"{CHROME_LINUX} Google-Safety",
        "Mozilla/5.0 (compatible; vercel-screenshot/1.0)",
        f"{CHROME_WINDOWS} vercel-screenshot",
        f"{CHROME_WINDOWS} Vercel-Screenshot/2.0",
    ],
)
def test_link_scanners_and_screenshotters_are_bots(user_agent: str) -> None:
    result = classify_user_agent(user_agent.encode())
    assert (result.device, result.is_bot) == ("bot", True)


@pytest.mark.parametrize("user_agent", [CHROME_LINUX, CHROME_WINDOWS])
def test_the_browsers_they_copy_are_people(user_agent: str) -> None:
    result = classify_user_agent(user_agent.encode())
    assert (result.device, result.is_bot) == ("desktop", False)
