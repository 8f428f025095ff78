"""Referrers from webmail and cloud mail hosts (Yahoo, iCloud, Gmail): which are email and which
are an ordinary referral."""

from __future__ import annotations

import pytest

from analytics.referrers import parse_referrer

# --- Yahoo!'s search is search.yahoo.*, its webmail email, its portal a referral;
# iCloud's one host serves mail, Drive, Notes and shared photos alike ---------------------------


@pytest.mark.parametrize(
    ("referrer", "medium", "source"),
    [
        # Yahoo!'s results pages, and the redirector their links go through
        ("https://search.yahoo.com/search?p=x", "search", "Yahoo!"),
        ("https://uk.search.yahoo.com/", "search", "Yahoo!"),
        ("https://r.search.yahoo.com/", "search", "Yahoo!"),
        ("https://search.yahoo.co.jp/", "search", "Yahoo!"),
        # webmail: on every Yahoo! suffix, and under any webmail label
        ("https://mail.yahoo.com/d/folders/1", "email", "Yahoo! Mail"),
        ("https://uk.mg.mail.yahoo.com/", "email", "Yahoo! Mail"),
        ("https://mail.yahoo.co.jp/", "email", "Yahoo! Mail"),
        ("https://webmail.yahoo.com/", "email", "yahoo.com"),
        ("https://webmail.seznam.cz/", "email", "seznam.cz"),  # seznam.cz itself is search
        # articles and pages that link out: nobody searched
        ("https://news.yahoo.com/some-story", "referral", "Yahoo! News"),
        ("https://uk.news.yahoo.com/", "referral", "Yahoo! News"),
        ("https://finance.yahoo.com/quote/X", "referral", "Yahoo! Finance"),
        ("https://sports.yahoo.com/", "referral", "Yahoo!"),
        ("https://www.yahoo.com/", "referral", "Yahoo!"),
        ("https://de.yahoo.com/", "referral", "Yahoo!"),
        ("https://yahoo.co.jp/", "referral", "Yahoo!"),
        ("https://login.yahoo.com/", "referral", "Yahoo!"),
        # not Yahoo!'s: a platform where anyone may name a site so
        ("https://yahoo.netlify.app/", "referral", "yahoo.netlify.app"),
        # iCloud: www.icloud.com/mail and www.icloud.com/iclouddrive/… share one host, and a
        # referrer keeps only the host: a named site, not email
        ("https://www.icloud.com/mail/", "referral", "iCloud"),
        ("https://www.icloud.com/iclouddrive/0abc#file", "referral", "iCloud"),
        ("https://www.icloud.com/notes/0abc", "referral", "iCloud"),
        ("https://beta.icloud.com/", "referral", "iCloud"),
        # the same rules still name Google's mail and news as before
        ("https://mail.google.com/mail/u/0/", "email", "Gmail"),
        ("https://news.google.co.uk/", "referral", "Google News"),
    ],
)
def test_yahoo_and_icloud_referrers_are_what_they_are(
    referrer: str, medium: str, source: str
) -> None:
    found = parse_referrer(referrer.encode(), "example.com")
    assert (found.medium, found.source) == (medium, source)
