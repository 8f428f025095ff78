"""Known referrer sources: our own curated table (written for this project, MIT like the rest).

Each row is ``(medium, human name, hosts)``. A host matches itself and every subdomain, on
whole labels (``en.m.wikipedia.org`` is Wikipedia, ``notwikipedia.org`` is not); the most
specific host wins (``gemini.google.com`` is AI although ``google.*`` is search). A trailing
``.*`` stands for any public suffix of the PSL's ICANN section: ``google.*`` matches google.com,
google.co.uk, google.de…, not google.github.io (a private-section platform, anyone's site).
``medium`` is one of analytics.event.MEDIUMS (``referral`` for a named site that is neither).

Hosts are written lower-case, without ``www.`` (referrer hosts are normalised the same way).
The widely copied referers.yml is GPL-3.0; nothing here is taken from it.
"""

from __future__ import annotations

SourceRow = tuple[str, str, tuple[str, ...]]

WEB_SOURCES: tuple[SourceRow, ...] = (
    # --- search engines ---
    ("search", "Google", ("google.*",)),
    ("search", "Google Scholar", ("scholar.google.*",)),
    ("search", "Bing", ("bing.com", "cn.bing.com")),
    ("search", "DuckDuckGo", ("duckduckgo.com", "html.duckduckgo.com", "lite.duckduckgo.com")),
    # Yahoo!'s results are on search.yahoo.* (r.search.yahoo.com redirects its links); the
    # rest of yahoo.* is a portal, news and mail, where nobody searched (below).
    ("search", "Yahoo!", ("search.yahoo.*",)),
    ("search", "Yandex", ("yandex.*", "ya.ru")),
    ("search", "Baidu", ("baidu.com", "m.baidu.com")),
    ("search", "Ecosia", ("ecosia.org",)),
    ("search", "Qwant", ("qwant.com", "lite.qwant.com")),
    ("search", "Brave Search", ("search.brave.com",)),
    ("search", "Startpage", ("startpage.com", "startpage.nl")),
    ("search", "Kagi", ("kagi.com",)),
    ("search", "Naver", ("naver.com", "search.naver.com")),
    ("search", "Seznam", ("seznam.cz", "search.seznam.cz")),
    ("search", "Sogou", ("sogou.com",)),
    ("search", "360 Search", ("so.com",)),
    ("search", "Ask", ("ask.com",)),
    ("search", "AOL Search", ("search.aol.com",)),
    ("search", "Mojeek", ("mojeek.com",)),
    ("search", "MetaGer", ("metager.org", "metager.de")),
    ("search", "Swisscows", ("swisscows.com",)),
    ("search", "Yep", ("yep.com",)),
    ("search", "Presearch", ("presearch.com",)),
    ("search", "Daum", ("daum.net", "search.daum.net")),
    ("search", "Cốc Cốc", ("coccoc.com",)),
    ("search", "Petal Search", ("petalsearch.com",)),
    ("search", "Mail.ru Search", ("go.mail.ru",)),
    ("search", "Lilo", ("search.lilo.org",)),
    # --- social networks and forums ---
    ("social", "Facebook", ("facebook.com", "fb.com", "fb.me", "messenger.com")),
    ("social", "X (Twitter)", ("x.com", "twitter.com", "t.co")),
    ("social", "LinkedIn", ("linkedin.com", "lnkd.in")),
    ("social", "Reddit", ("reddit.com", "redd.it")),
    ("social", "Hacker News", ("news.ycombinator.com",)),
    ("social", "YouTube", ("youtube.com", "youtu.be")),
    ("social", "Instagram", ("instagram.com",)),
    ("social", "Pinterest", ("pinterest.*", "pin.it")),
    ("social", "TikTok", ("tiktok.com",)),
    ("social", "Bluesky", ("bsky.app", "bsky.social")),
    (
        "social",
        "Mastodon",
        (
            "mastodon.social",
            "mastodon.online",
            "mastodon.world",
            "mstdn.social",
            "mstdn.jp",
            "mas.to",
            "fosstodon.org",
            "hachyderm.io",
            "infosec.exchange",
            "techhub.social",
            "chaos.social",
            "universeodon.com",
            "toot.community",
            "mastodon.art",
            "sfba.social",
            "troet.cafe",
        ),
    ),
    ("social", "Threads", ("threads.net", "threads.com")),
    ("social", "Lobsters", ("lobste.rs",)),
    ("social", "VK", ("vk.com", "vk.ru")),
    ("social", "Odnoklassniki", ("ok.ru",)),
    ("social", "Weibo", ("weibo.com", "weibo.cn")),
    ("social", "Zhihu", ("zhihu.com",)),
    ("social", "Douban", ("douban.com",)),
    ("social", "Tumblr", ("tumblr.com",)),
    ("social", "Quora", ("quora.com",)),
    ("social", "Discord", ("discord.com", "discordapp.com")),
    ("social", "Slack", ("slack.com",)),
    ("social", "Telegram", ("t.me", "web.telegram.org")),
    ("social", "WhatsApp", ("web.whatsapp.com", "wa.me")),
    ("social", "Snapchat", ("snapchat.com",)),
    ("social", "Xing", ("xing.com",)),
    ("social", "LINE", ("line.me",)),
    ("social", "Lemmy", ("lemmy.world", "lemmy.ml")),
    ("social", "Nextdoor", ("nextdoor.com",)),
    ("social", "Flipboard", ("flipboard.com",)),
    # --- AI assistants ---
    ("ai", "ChatGPT", ("chatgpt.com", "chat.openai.com")),
    ("ai", "Claude", ("claude.ai",)),
    ("ai", "Perplexity", ("perplexity.ai",)),
    ("ai", "Gemini", ("gemini.google.com", "bard.google.com")),
    ("ai", "Microsoft Copilot", ("copilot.microsoft.com", "copilot.cloud.microsoft")),
    ("ai", "You.com", ("you.com",)),
    ("ai", "Phind", ("phind.com",)),
    ("ai", "DeepSeek", ("chat.deepseek.com", "deepseek.com")),
    ("ai", "Le Chat (Mistral)", ("chat.mistral.ai",)),
    ("ai", "Meta AI", ("meta.ai",)),
    ("ai", "Poe", ("poe.com",)),
    ("ai", "Grok", ("grok.com",)),
    ("ai", "Kimi", ("kimi.com", "kimi.moonshot.cn")),
    ("ai", "Qwen", ("chat.qwen.ai",)),
    ("ai", "Duck.ai", ("duck.ai",)),
    # --- webmail ---
    ("email", "Gmail", ("mail.google.*",)),
    (
        "email",
        "Outlook",
        ("outlook.live.com", "outlook.office.com", "outlook.office365.com", "outlook.com"),
    ),
    ("email", "Yahoo! Mail", ("mail.yahoo.*",)),
    ("email", "AOL Mail", ("mail.aol.com",)),
    ("email", "Proton Mail", ("mail.proton.me", "mail.protonmail.com")),
    ("email", "Zoho Mail", ("mail.zoho.*",)),
    ("email", "Fastmail", ("fastmail.com", "app.fastmail.com")),
    ("email", "Yandex Mail", ("mail.yandex.*",)),
    ("email", "Mail.ru", ("e.mail.ru",)),
    ("email", "Seznam Email", ("email.seznam.cz",)),
    ("email", "GMX", ("gmx.net", "gmx.de", "gmx.com", "navigator.gmx.net")),
    ("email", "WEB.DE", ("web.de",)),
    ("email", "T-Online Mail", ("email.t-online.de",)),
    ("email", "Tuta", ("app.tuta.com", "mail.tutanota.com")),
    ("email", "QQ Mail", ("mail.qq.com",)),
    ("email", "163 Mail", ("mail.163.com",)),
    ("email", "Naver Mail", ("mail.naver.com",)),
    # --- well-known sites that are neither: a human name, medium "referral" ---
    ("referral", "Wikipedia", ("wikipedia.org",)),
    ("referral", "GitHub", ("github.com",)),
    ("referral", "Stack Overflow", ("stackoverflow.com",)),
    ("referral", "Google News", ("news.google.*",)),
    ("referral", "Yahoo!", ("yahoo.*",)),  # the portal; its search and mail are listed above
    ("referral", "Yahoo! News", ("news.yahoo.*",)),
    ("referral", "Yahoo! Finance", ("finance.yahoo.*",)),
    # iCloud Mail is www.icloud.com/mail, on the one host with Drive, Notes and shared photos:
    # a referrer's host cannot tell them apart, so it is not counted as email.
    ("referral", "iCloud", ("icloud.com",)),
    # Google's products that link out, under `google.*` but not a search
    ("referral", "Google Docs", ("docs.google.*",)),
    ("referral", "Google Drive", ("drive.google.*",)),
    ("referral", "Google Sites", ("sites.google.*",)),
    ("referral", "Google Groups", ("groups.google.*",)),
    ("referral", "Google Accounts", ("accounts.google.*",)),  # "Sign in with Google" returns
    ("referral", "Google Maps", ("maps.google.*",)),
    ("referral", "Google Play", ("play.google.*",)),
    ("referral", "Google Classroom", ("classroom.google.*",)),
    ("referral", "Medium", ("medium.com",)),
    ("referral", "Substack", ("substack.com",)),
    ("referral", "Product Hunt", ("producthunt.com",)),
)

# The first label of a host that marks webmail on any domain (webmail.example.org).
WEBMAIL_LABELS: frozenset[str] = frozenset({"webmail"})

# `android-app://<package>` referrers (Android apps opening a link), matched exactly.
ANDROID_APPS: tuple[SourceRow, ...] = (
    ("search", "Google", ("com.google.android.googlequicksearchbox",)),
    ("email", "Gmail", ("com.google.android.gm",)),
    ("email", "Outlook", ("com.microsoft.office.outlook",)),
    ("email", "Proton Mail", ("ch.protonmail.android",)),
    ("email", "Yahoo! Mail", ("com.yahoo.mobile.client.android.mail",)),
    ("social", "X (Twitter)", ("com.twitter.android",)),
    ("social", "Facebook", ("com.facebook.katana", "com.facebook.lite", "com.facebook.orca")),
    ("social", "LinkedIn", ("com.linkedin.android",)),
    ("social", "Reddit", ("com.reddit.frontpage",)),
    ("social", "Instagram", ("com.instagram.android",)),
    ("social", "Telegram", ("org.telegram.messenger",)),
    ("social", "WhatsApp", ("com.whatsapp",)),
    ("social", "Slack", ("com.slack",)),
    ("social", "Discord", ("com.discord",)),
    ("social", "Mastodon", ("org.joinmastodon.android",)),
    ("social", "Bluesky", ("xyz.blueskyweb.app",)),
    ("social", "YouTube", ("com.google.android.youtube",)),
    ("ai", "ChatGPT", ("com.openai.chatgpt",)),
    ("ai", "Claude", ("com.anthropic.claude",)),
    ("ai", "Perplexity", ("ai.perplexity.app.android",)),
    ("ai", "Gemini", ("com.google.android.apps.bard",)),
)
