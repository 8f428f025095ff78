"""Cookie names as the gate remembers, logs and publishes them, with the parts that name one
person masked.

The gate lists the cookies its policy does not declare on the public declaration
(`GET /consent/cookies`) and logs every name it removes, so that a site learns which cookies
its policy forgets. Some names carry a user's id: WordPress sets `wp-settings-<user id>` and
`wp-settings-time-<user id>` behind its login, other apps `last_seen_<account number>` or a
name with an e-mail address in it. Published as they are, any visitor would read which
accounts exist and who logged in lately. So a name is kept with each such part replaced by
`*`: `wp-settings-time-1337` is remembered, logged and listed as `wp-settings-time-*`. That
also makes the thousand per-user names one entry, where each would otherwise take a place of
the gate's bounded memory of names.

What counts as such a part (a run of letters and digits between separators): a number of 2
or more digits (`wp-settings-42`), a part with 3 or more digits (an account number, a
timestamp, a site or container id: `_ga_ABC1234567` becomes `_ga_*`, still telling the site
which tool set it), one of 8 or more characters holding a digit (a hex or base64 id), and
anything around an `@` (an e-mail address). Fixed names with a digit or two in a word stay
as they are (`__Secure-3PSID`, `1P_JAR`, `theme_v10`), and so does a single digit
(`wp-settings-1`: the first account of every WordPress site). A user's name spelled out in
a cookie name (`seen_jane`) cannot be told from a word and stays.
"""

from __future__ import annotations

import re

# A run of letters and digits: the parts a name is judged by. Everything else (`-`, `_`,
# `.`, `:`, `|`, ...) separates them and is kept, so a masked name keeps its shape.
_PART = re.compile(r"[A-Za-z0-9]+")
# An e-mail address anywhere in the name: the parts around its `@` up to the next `-`, `_`,
# `|`, `:`, `,` or `;`. (Cookie names may hold `.` and `@`, as addresses do.)
_EMAIL = re.compile(r"[^-_|:,;@]+@[^-_|:,;@]+")
MASK = "*"


def shown_name(name: str) -> str:
    """`name` with the parts that can name one person (or one account) replaced by `*`."""
    if "@" in name:
        name = _EMAIL.sub(MASK, name)
    return _PART.sub(_masked_part, name)


def _masked_part(match: re.Match[str]) -> str:
    part = match.group()
    digits = sum(ch.isdigit() for ch in part)
    if digits >= 3 or (digits and len(part) >= 8) or (digits >= 2 and digits == len(part)):
        return MASK
    return part
