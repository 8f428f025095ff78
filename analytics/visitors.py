"""Daily salts and the visitor hash: counting unique visitors without storing who they are.

`visitor_id = BLAKE2b(key=salt_of_the_day, site + client address + user agent)[:8]` as a signed
64-bit integer. The salt is 16 random bytes, one per UTC day, shared through `salt_dir` by
every process and host that records the site, so the same visitor has one id per day across
workers. Salts are deleted once their day is over and the next one has begun (at most 48 h
old); from then on no id of that day can be linked to an address, not even by us.

The salt folder is the one place where secrets live: keep it off backups and exports, and
readable only by the web server's user (created with mode 0700, salts 0600).

References:
    RFC 7693 (BLAKE2), RFC 7239 / X-Forwarded-For (proxies),
    Plausible's data policy (daily salts, deleted after 48 h)
"""

from __future__ import annotations

import array
import contextlib
import errno
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

SALT_BYTES = 16
DIGEST_BYTES = 8  # read as a signed 64-bit integer: `array` type code "q"
_NUL = b"\x00"
SALT_SUFFIX = ".salt"
# link() on a filesystem without hard links: vfat says EPERM, SMB and FUSE mounts the others.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})
_SHORT_READ_RETRIES = 20  # x 10 ms for a creator to finish its 16-byte write
_SALT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.salt$")
_TEMP_PREFIX = ".tmp-"
# A salt is written and linked in milliseconds: a temporary file this old lost its process.
STALE_TEMP_SECONDS = 60.0

logger = logging.getLogger("analytics")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_UNKNOWN_HOP = "unknown"


ProxySpec = str | Network | Address
_IP_OBJECTS = (
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
)


def parse_proxies(proxies: Iterable[ProxySpec] | str | None) -> tuple[Network, ...]:
    """`trusted_proxies` as networks; a bad entry raises ValueError naming it.

    Takes what deployments hand over: addresses and networks as text or `ipaddress` objects,
    a list of them, or one comma-separated string (uvicorn's `FORWARDED_ALLOW_IPS` form, read
    from the environment); None (an unset variable) is no proxy.
    """
    if proxies is None:
        return ()
    if isinstance(proxies, str):
        # "10.0.0.0/8," or "" (a variable set empty): nothing between the commas is no proxy
        proxies = [piece for piece in proxies.split(",") if piece.strip()]
    elif not isinstance(proxies, Iterable):
        raise ValueError(f"trusted_proxies: {proxies!r} is not a list of addresses or networks")
    networks = []
    for proxy in proxies:
        if isinstance(proxy, str):
            proxy = proxy.strip()
        if not isinstance(proxy, (str, *_IP_OBJECTS)):
            raise ValueError(f"trusted_proxies: {proxy!r} is not an IP address or network")
        try:
            network = ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ValueError(
                f"trusted_proxies: {proxy!r} is not an IP address or network ({exc})"
            ) from None
        networks.append(network)
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_IPV4_MAPPED):
            # addresses are compared unwrapped (`_ip`): ::ffff:10.0.0.0/104 is 10.0.0.0/8
            mapped = network.network_address.ipv4_mapped
            networks.append(ipaddress.IPv4Network((str(mapped), network.prefixlen - 96)))
    return tuple(networks)


def client_address(
    peer: str | None, forwarded_for: bytes | None, trusted: tuple[Network, ...]
) -> str:
    """The client's address: the peer, or the right-most untrusted X-Forwarded-For hop.

    Only hops appended by our own proxies can be believed (a client can write anything into the
    left part of the header), so the list is read from the right, skipping trusted proxies.
    A hop is read as an address without its port (`1.2.3.4:5678`, `[2001:db8::1]:443`, as some
    load balancers append) and in one spelling, so a visitor keeps one id across connections.
    "" when the hop that would decide is `unknown`: no address to hash.
    """
    if not trusted or not forwarded_for or peer is None or not _is_trusted(_ip(peer), trusted):
        return peer or ""
    hops = [hop.strip() for hop in forwarded_for.decode("latin-1").split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        ip = _ip(hop)
        if ip is None:
            # RFC 7239 §6: "unknown" is what a proxy writes for every client it cannot
            # tell, so it names nobody (hashed, all visitors with one browser would be
            # one): no address, as for a Unix socket. An obfuscated identifier ("_hidden",
            # "_a1b2") may be the proxy's token for one client: as sent.
            return "" if hop.lower() == _UNKNOWN_HOP else hop
        if not _is_trusted(ip, trusted):
            return str(ip)
    first = _ip(hops[0]) if hops[0] else None
    return str(first) if first is not None else hops[0] or peer


def _ip(text: str) -> Address | None:
    """The address in a hop or peer, without port or brackets; IPv4-mapped IPv6 as IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_trusted(ip: Address | None, trusted: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip in network for network in trusted)


def _remove_temporary(temp: Path, day: date) -> None:
    """Remove a salt's temporary name. After the link the day's salt is made: an error here
    must not reach the caller as a salt that failed. But the name left is a second link to
    the salt, which `delete_expired` removes only once it is stale: one warning line, so that
    a retention audit that finds it knows where it came from (its name, never the salt)."""
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    except OSError as error:
        logger.warning(
            "cannot remove the temporary salt file %s of %s (%s): it is deleted with the "
            "stale ones when expired salts are next deleted",
            temp.name,
            day.isoformat(),
            error.strerror or type(error).__name__,
        )


class SaltStore:
    """One random salt per UTC day in `salt_dir`, created once by whichever process is first."""

    def __init__(self, salt_dir: str | os.PathLike[str]) -> None:
        self.salt_dir = Path(salt_dir)
        # Days before this one are over by more than the retention: their salts were deleted
        # (or are due to be) by `delete_expired`, and are never made again.
        self._expired_before: date | None = None

    def path(self, day: date) -> Path:
        return self.salt_dir / f"{day.isoformat()}{SALT_SUFFIX}"

    def salt(self, day: date) -> bytes | None:
        """The salt of `day`, creating it atomically if no process has yet; None for a day
        that is over by more than the retention (SPEC 4.1: a deleted salt is never linkable
        again), so an event that comes after its day's salt was deleted (a clock that went
        back, a backfill in the live salt folder, a worker suspended for days) is never
        hashed with a new salt: that would count its visitors twice, and the salt would
        outlive its day."""
        if self._expired_before is not None and day < self._expired_before:
            return None
        path = self.path(day)
        with contextlib.suppress(FileNotFoundError):
            return self._read(path)
        if self._is_over(day):
            return None
        self.salt_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.salt_dir / f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(SALT_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            # link() fails if the name exists: of two racing processes one wins, and the
            # loser reads the winner's salt. The final name never holds a half-written file.
            try:
                os.link(temp, path)
            except FileExistsError:
                pass
            except OSError as error:
                if error.errno not in _NO_HARD_LINKS:
                    raise
                self._create_in_place(path)
        finally:
            _remove_temporary(temp, day)
        return self._read(path)

    def _is_over(self, day: date) -> bool:
        """Whether the folder holds the salt of a day after `day`'s next: then `day`'s salt was
        deleted (by whichever process made that one), or would have been."""
        try:
            names = os.listdir(self.salt_dir)
        except FileNotFoundError:
            return False
        newest = max((found for found in map(_day_of, names) if found is not None), default=None)
        if newest is None or day >= newest - timedelta(days=1):
            return False
        self._expire_before(newest - timedelta(days=1))
        return True

    def _expire_before(self, keep_from: date) -> None:
        if self._expired_before is None or keep_from > self._expired_before:
            self._expired_before = keep_from

    @staticmethod
    def _create_in_place(path: Path) -> None:
        """For filesystems without hard links (vfat, some SMB and FUSE mounts): O_EXCL on the
        final name still lets exactly one process create it; a reader that comes between the
        create and the write sees a short file and waits for it (`_read`)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SALT_BYTES))
            handle.flush()
            os.fsync(handle.fileno())

    @staticmethod
    def _read(path: Path) -> bytes:
        data = path.read_bytes()
        for _ in range(_SHORT_READ_RETRIES):
            if len(data) == SALT_BYTES:
                break
            time.sleep(0.01)  # the flusher thread, never a request: a creator mid-write
            data = path.read_bytes()
        if len(data) != SALT_BYTES:
            raise OSError(f"salt file {path.name} is damaged ({len(data)} bytes)")
        return data

    def delete_expired(self, today: date) -> list[date]:
        """Delete salts older than yesterday's (yesterday's stays: a visit across midnight),
        and temporary files that a process killed while making a salt left behind."""
        keep_from = today - timedelta(days=1)
        self._expire_before(keep_from)
        deleted: list[date] = []
        try:
            entries = list(self.salt_dir.iterdir())
        except FileNotFoundError:
            return deleted
        stale = time.time() - STALE_TEMP_SECONDS
        for entry in entries:
            if entry.name.startswith(_TEMP_PREFIX):
                # Killed between link() and unlink(), the temporary name is a second link to
                # the day's salt: deleting the salt's own name would not delete the salt.
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < stale:
                        entry.unlink()
                continue
            match = _SALT_NAME.match(entry.name)
            if match is None:
                continue
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                continue
            if day < keep_from:
                with contextlib.suppress(FileNotFoundError):  # another process was first
                    entry.unlink()
                deleted.append(day)
        return deleted

    def days(self) -> list[date]:
        """Days that have a salt (for tests and operators)."""
        if not self.salt_dir.is_dir():
            return []
        return sorted(
            date.fromisoformat(m.group(1))
            for m in map(_SALT_NAME.match, (p.name for p in self.salt_dir.iterdir()))
            if m is not None
        )


def _day_of(name: str) -> date | None:
    match = _SALT_NAME.match(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


class VisitorHasher:
    """Keyed hash of site + client address + user agent with the salt of the event's day.

    The keyed BLAKE2b state of the current day (with the site already fed in) is kept in
    memory and copied per request, so a hash costs one copy and one update. Deliberately no
    cache of ids by (address, user agent): it would be a list of the day's client addresses
    in memory, which the salt alone is not.
    """

    def __init__(self, site: str, salts: SaltStore) -> None:
        self._site = site.encode()
        self._salts = salts
        self._lock = threading.Lock()
        self._day: date | None = None
        self._state: hashlib.blake2b | None = None
        self._previous: tuple[date, hashlib.blake2b] | None = None
        self._last_refused: date | None = None

    def visitor_id(self, day: date, address: str, user_agent: bytes) -> int | None:
        """The id of a visitor on `day`; None when the day is over by more than the
        retention (see `SaltStore.salt`)."""
        state = self._state
        if day != self._day or state is None:
            state = self._state_for(day)
            if state is None:
                return None
        hasher = state.copy()
        hasher.update(b"%b\x00%b" % (address.encode(), user_agent))  # one call: same digest
        return int.from_bytes(hasher.digest(), "big", signed=True)

    def visitor_ids(
        self, day: date, addresses: Sequence[str], user_agents: Sequence[bytes]
    ) -> list[int | None]:
        """`visitor_id` of each (address, user agent) pair of one day; None where the address
        is empty (no client address to hash) or the day is over (see `visitor_id`).

        The flusher's way: one state lookup per batch, and a loop that costs about half of
        one call per pair (a batch holds thousands of visitors, each hashed once).
        """
        if not any(addresses):
            # No address to hash (a Unix socket, an `unknown` hop): as in `visitor_id`, the
            # salt folder is not touched (no salt made, no day switched, no refusal logged).
            return [None] * len(addresses)
        state = self._state
        if day != self._day or state is None:
            state = self._state_for(day)
            if state is None:
                return [None] * len(addresses)
        fresh = state.copy
        digests: list[bytes] = []
        append = digests.append
        # The message `visitor_id` hashes, b"address\x00user agent", made in C for all rows
        # at once (join takes what %b takes from ASGI: bytes and other buffers); empty
        # addresses are hashed too (fewer branches) and their ids left out below.
        for message in map(_NUL.join, zip(map(str.encode, addresses), user_agents, strict=True)):
            hasher = fresh()
            hasher.update(message)
            append(hasher.digest())
        # The 8-byte digests as big-endian signed integers (int.from_bytes's reading), in C.
        numbers = array.array("q", b"".join(digests))
        if sys.byteorder == "little":
            numbers.byteswap()
        ids: list[int | None] = numbers.tolist()  # type: ignore[assignment]
        if not all(addresses):
            pairs = zip(ids, addresses, strict=True)
            ids = [visitor if address else None for visitor, address in pairs]
        return ids

    def _state_for(self, day: date) -> hashlib.blake2b | None:
        with self._lock:
            if day == self._day and self._state is not None:
                return self._state
            if self._previous is not None and self._previous[0] == day:
                return self._previous[1]  # a late event of yesterday, after midnight
            yesterday = None if self._day is None else self._day - timedelta(days=1)
            salt = None if yesterday is not None and day < yesterday else self._salts.salt(day)
            if salt is None:
                self._refused(day)
                return None
            state = hashlib.blake2b(key=salt, digest_size=DIGEST_BYTES)
            state.update(self._site)
            state.update(b"\x00")
            if self._day is None or day > self._day:
                # first event of a new day: switch, and delete what has expired. The key
                # kept for late events is yesterday's only: an older one's salt goes now.
                self._previous = None
                if self._day == day - timedelta(days=1) and self._state is not None:
                    self._previous = (self._day, self._state)
                self._day, self._state = day, state
                self._salts.delete_expired(day)
            elif day == yesterday:
                self._previous = (day, state)  # yesterday's, first seen after today's
            return state

    def _refused(self, day: date) -> None:
        if day != self._last_refused:  # a line per day, not per event (hold `_lock`)
            self._last_refused = day
            logger.warning(
                "analytics: events of %s came after its salt was deleted; counted without "
                "visitor ids (a backfill that wants them needs a salt_dir of its own)",
                day.isoformat(),
            )

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's flusher may have held it at the fork,
        and no thread of the child would ever release it)."""
        self._lock = threading.Lock()

    def expire(self, today: date) -> None:
        """Drop in-memory keys of days before yesterday, as their salt files are deleted: an
        idle worker must not hold a key that the files no longer do."""
        keep_from = today - timedelta(days=1)
        with self._lock:
            if self._previous is not None and self._previous[0] < keep_from:
                self._previous = None
            if self._day is not None and self._day < keep_from:
                self._day = self._state = None

    def forget(self) -> None:
        """Drop the in-memory keys (on close), so nothing outlives the salt files."""
        with self._lock:
            self._day = self._state = self._previous = None
