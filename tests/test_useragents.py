from __future__ import annotations

import pytest
import ua_parser

from analytics.useragents import classify_user_agent

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "device", "is_bot"),
    [
        (CHROME_WIN, "desktop", False),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
            False,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/18.1 Safari/605.1.15",
            "desktop",
            False,
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "desktop",
            False,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "mobile",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "mobile",
            False,
        ),
        (
            "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/"
            "537.36 (KHTML, like Gecko) Chrome/52.0 Mobile Safari/537.36 Edge/15.15063",
            "mobile",
            False,
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "tablet",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "tablet",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Silk/120.1.1 like Chrome/120.0.0.0 Safari/537.36",
            "tablet",
            False,
        ),
        (
            "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko)",
            "other",
            False,
        ),
        ("SomethingNobodyKnows/1.0", "other", False),
        # crawlers and automated clients
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot", True),
        ("Mozilla/5.0 (compatible; GPTBot/1.0; +https://openai.com/gptbot)", "bot", True),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
            "+claudebot@anthropic.com)",
            "bot",
            True,
        ),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot", True),
        ("Twitterbot/1.0", "bot", True),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
            "bot",
            True,
        ),
        ("curl/8.4.0", "bot", True),
        ("Wget/1.21.4", "bot", True),
        ("python-requests/2.32.3", "bot", True),
        ("python-httpx/0.28.1", "bot", True),
        ("Go-http-client/2.0", "bot", True),
        ("okhttp/4.12.0", "bot", True),
        ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "bot", True),
        ("", "bot", True),  # every browser sends a user agent; scripts often do not
        ("   ", "bot", True),
    ],
)
def test_device_and_bot_classes(ua: str, device: str, is_bot: bool) -> None:
    result = classify_user_agent(ua.encode("latin-1"))
    assert (result.device, result.is_bot) == (device, is_bot)


def test_non_ascii_and_oversized_user_agents_do_not_fail() -> None:
    assert classify_user_agent(b"Mozilla/5.0 \xff\xfe (X11; Linux x86_64)").device == "desktop"
    assert classify_user_agent(b"A" * 100_000).device in ("other", "bot")


def test_a_repeated_user_agent_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Speed itself is measured in bench/ (SPEC 5: no timed tests); here: a hit skips the parse.
    calls: list[str] = []
    real_parse = ua_parser.parse

    def counting_parse(ua: str) -> object:
        calls.append(ua)
        return real_parse(ua)

    monkeypatch.setattr("analytics.useragents.parse", counting_parse)
    classify_user_agent.cache_clear()
    ua = CHROME_WIN.encode()
    first = classify_user_agent(ua)
    for _ in range(100):
        assert classify_user_agent(ua) is first
    assert len(calls) == 1
