"""Which time zone names may cut a warehouse's days."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def validate_timezone(name: str) -> str:
    """Return `name` if it is an IANA time zone name; raise ValueError otherwise.

    Files Python finds under /usr/share/zoneinfo that are not a civil zone of their own are
    refused with the reason, even though zoneinfo opens them: see `_not_a_civil_zone`.
    """
    reason = _not_a_civil_zone(name)
    if reason is not None:
        raise ValueError(f"unknown time zone {name!r}: {reason}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None
    return name


def _not_a_civil_zone(name: str) -> str | None:
    """Why `name` names a tz database file that must not cut a warehouse's days, or None."""
    if name in ("localtime", "posixrules"):
        # A link to whatever this host is set to: two machines would cut the same warehouse's
        # days differently (and DuckDB's ICU knows neither name).
        return (
            "it is this host's own setting, not a zone, and differs between machines; "
            "use the IANA name of the zone you mean, such as 'Europe/Berlin'"
        )
    head, _, rest = name.partition("/")
    if head == "right" and rest:
        # right/ zones count the 27 leap seconds since 1972: their midnight is ~27 s away
        # from civil midnight, so every day would gain or lose the events of those seconds.
        return f"right/ zones count leap seconds, so their days are not civil days; use {rest!r}"
    if head == "posix" and rest:
        # The same rules as the plain name; refused rather than renamed so that a stored
        # zone is always the name given (and DuckDB's ICU does not know posix/ names).
        return f"posix/ zones are copies of the plain IANA names; use {rest!r}"
    return None
