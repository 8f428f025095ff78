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
an e-mail address (its `@` also written `%40`) or a UUID, a group of 4 or more hex digits
with a letter and a digit in it (`9f0a`). Fixed names with a digit or two in a word stay
as they are (`__Secure-3PSID`, `1P_JAR`, `theme_v10`), and so does a single digit
(`wp-settings-1`: the first account of every WordPress site). A user's name spelled out in
a cookie name (`seen_jane`) cannot be told from a word and stays, and so does a random id
without a digit (`sess_AbCdEfGh`: most random ids of 12 characters or more have one). A name
that is masks alone (`123456`) is shown as `(masked)`, not `*`, which would read as a pattern
for every cookie.
"""

from __future__ import annotations

import re

# A run of letters and digits: the parts a name is judged by. Everything else (`-`, `_`,
# `.`, `:`, `|`, ...) separates them and is kept, so a masked name keeps its shape.
_PART = re.compile(r"[A-Za-z0-9]+")
# An e-mail address anywhere in the name, its `@` also percent-encoded: the whole address,
# as far as an address's characters go (`.`, `_`, `-`, `+` and `%` included), so a prefix
# joined to it by `_` goes too: masking too much is the safe side.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]*(?:@|%40)[A-Za-z0-9.-]*", re.IGNORECASE)
# A UUID (any version), whose 4-character groups alone would not look like ids.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HEX = frozenset("0123456789abcdefABCDEF")
MASK = "*"
# What a name made of masks alone is shown as: `*` by itself would read as a pattern that
# declares every cookie, were it pasted into a CookieRule.
ALL_MASKED = "(masked)"


def shown_name(name: str) -> str:
    """`name` with the parts that can name one person (or one account) replaced by `*`."""
    if "@" in name or "%" in name:
        name = _EMAIL.sub(MASK, name)
    if "-" in name:
        name = _UUID.sub(MASK, name)
    shown = _PART.sub(_masked_part, name)
    return shown if _PART.search(shown) else ALL_MASKED


def _masked_part(match: re.Match[str]) -> str:
    part = match.group()
    digits = sum(ch.isdigit() for ch in part)
    if digits >= 3 or (digits and len(part) >= 8) or (digits >= 2 and digits == len(part)):
        return MASK
    # A group of hex digits with a letter and a digit (`ab1c`, `9f0a`): a piece of an id.
    if digits and len(part) >= 4 and digits < len(part) and _HEX.issuperset(part):
        return MASK
    return part
