"""Origins: where a consent POST came from, and the `trusted_origins` a site configures.

A decision is accepted only from the site's own origin (or one it trusts), read from the
browser's `Origin` or, failing that, its `Referer`; both are compared as a browser writes an
origin (RFC 6454): lower case, no default port.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from cookiewall.messages import Request

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")  # urlsplit lower-cases


def normal_origin(origin: str) -> str:
    origin = origin.strip().lower()
    scheme, sep, host = origin.partition("://")
    if not sep:
        return origin  # "null" and other opaque origins never match
    name, colon, port = host.rpartition(":")
    if colon and "]" not in port and _DEFAULT_PORTS.get(scheme) == port:
        host = name
    return f"{scheme}://{host}"


def trusted_origin(value: object) -> str:
    """A `trusted_origins` entry checked and written as `normal_origin` writes a browser's
    Origin (lower case, no default port), or ValueError naming it.

    Only `scheme://host[:port]` with http or https: a browser's Origin never has a path,
    query, fragment or credentials, so an entry with any of them could never match and is a
    mistake to report, not to keep silently.
    """
    if not isinstance(value, str):
        raise ValueError(f"trusted_origins: {value!r} is not a string")
    shape = "must be scheme://host[:port] (http or https), e.g. 'https://example.com'"
    if not value.isascii():
        raise ValueError(
            f"trusted_origins: {value!r} {shape}: it has non-ASCII characters"
            " (write an internationalised name in its xn-- form)"
        )
    if not value.isprintable() or " " in value:
        raise ValueError(f"trusted_origins: {value!r} {shape}: it has spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:  # an unbalanced '[', a port that is not a number in range
        raise ValueError(f"trusted_origins: {value!r} {shape}: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    problem: str | None = None
    if scheme not in _DEFAULT_PORTS or not value.lower().startswith(f"{scheme}://"):
        problem = "does not start with http:// or https://"
    elif "@" in parts.netloc:
        problem = "has credentials"
    elif parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        problem = "has a path, query or fragment (not even a trailing '/')"
    elif port == 0 or parts.netloc.endswith(":"):
        problem = "has an empty or zero port"
    elif not _host_ok(host):
        problem = "has no valid host"
    if problem is not None:
        raise ValueError(f"trusted_origins: {value!r} {shape}: it {problem}")
    if ":" in host:  # IPv6, as browsers write it: compressed, in brackets
        host = f"[{ipaddress.IPv6Address(host).compressed}]"
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def _host_ok(host: str) -> bool:
    if ":" in host:
        if "%" in host:  # a zone id (fe80::1%eth0): no browser puts one in an Origin
            return False
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    labels = host.removesuffix(".").split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def referer_origin(referer: str) -> str | None:
    """The origin of an http(s) Referer, or None for anything a browser would not send."""
    words = referer.split()
    if len(words) != 1:
        # A browser's Referer is one URL, its spaces escaped: whitespace inside is a repeated
        # field joined (`Request.headers`), whose first copy alone urlsplit would read.
        return None
    try:
        parts = urlsplit(words[0])
    except ValueError:  # an unbalanced '[' in the host
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None  # browsers strip credentials from a Referer: one with them is forged
    return f"{parts.scheme}://{parts.netloc}"


def own_origin(request: Request) -> str:
    scheme = "https" if request.scope.get("scheme") in ("https", "wss") else "http"
    host = request.headers.get("host")
    if not host:
        server = request.scope.get("server")
        if not server:
            return ""
        host = f"{server[0]}:{server[1]}"
    return normal_origin(f"{scheme}://{host}")
