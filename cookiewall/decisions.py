"""Reading a consent decision from a POST body: a form, a multipart form or JSON.

Every way a body can be malformed, oversized or ambiguous (a repeated field, two
Content-Types, an encoded multipart part) is a `ClientError` with a 4xx status, decided
before the decision is acted on: what the receipt records is what a log, a WAF or the site's
own client code would read from the same bytes.

References: RFC 7578 (multipart/form-data), RFC 2045 6.1 (Content-Transfer-Encoding),
RFC 9110 5.3 (a field sent more than once), RFC 8259 4 (names in a JSON object).
"""

from __future__ import annotations

import email.policy
import json
import re
from email.message import Message
from email.parser import BytesParser
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from cookiewall.messages import MAX_FIELDS, ClientError, Request

MAX_BODY = 64 * 1024  # a consent decision is a few hundred bytes
# A multipart decision with every category is well under 2 KiB. The MIME parser costs about
# 1 ms per KiB of hostile headers: the cap keeps one request to a few ms of the event loop.
MAX_MULTIPART_BODY = 8 * 1024
# The parser reads a header's parameters in time proportional to its ';'s times its length
# (each ';' in a quoted value rescans the header for quotes): 8 KiB of ';' took ~80 ms, and
# the Content-Type, outside the body's cap, 3 s for 64 KB under uvicorn. A browser's decision
# has one ';' a field; its Content-Type a boundary of at most 70 characters (RFC 2046 5.1.1).
MAX_MULTIPART_SEMICOLONS = 2 * MAX_FIELDS
MAX_MULTIPART_TYPE = 256
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})  # RFC 2045 6.1: no decoding
ACTIONS = ("accept_all", "reject_all", "save", "withdraw")
_QUOTED_PAIR = re.compile(r"\\.", re.DOTALL)  # a quoted-pair (RFC 9110 5.6.4): `\"` ends no quote
# The longest policy version a decision can name: a version travels in the consent cookie,
# which the gate refuses to make above 4096 bytes (endpoints.MAX_COOKIE_BYTES).
MAX_POLICY_VERSION = 4096


class PostedDecision(NamedTuple):
    """A decision as the client sent it: well-formed, not yet checked against the policy."""

    action: str
    categories: frozenset[str]
    next_path: str
    is_form: bool
    # The policy version the banner was shown under (its `policy_version` field); None when
    # not sent (an API client, a banner from before the field). A form that repeats the
    # field gets "": no policy has an empty version, so it names none (a stale banner).
    policy_version: str | None = None


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        # ASCII digits only: str.isdigit() also takes '²' (a latin-1 byte), which int() refuses.
        if not (declared.isascii() and declared.isdigit()):
            raise ClientError(400, "bad Content-Length")
        # Compared by length first: int() refuses more than 4,300 digits (a ValueError).
        digits = declared.lstrip("0")
        if len(digits) > len(str(MAX_BODY)) or int(digits or "0") > MAX_BODY:
            raise ClientError(413, f"body larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientError(400, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ClientError(413, f"body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_decision(content_type: str, body: bytes) -> PostedDecision:
    """The decision of a form or JSON body; ClientError if malformed."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _DECISION_TYPES and "," in content_type and _joined(content_type):
        # Two Content-Type fields arrive joined (`Request.headers`): reading the first copy's
        # media type would let the request pick the copy that suits it.
        raise ClientError(400, "more than one Content-Type")
    if media_type == "application/json":
        return _parse_json(body)
    if media_type == "application/x-www-form-urlencoded":
        return _parse_form(body)
    if media_type == "multipart/form-data":
        # What `fetch(url, {method: "POST", body: new FormData(form)})` sends: answered as the
        # same form posted without script would be.
        return _decision_of(_multipart_fields(content_type, body))
    raise ClientError(
        415, "send application/x-www-form-urlencoded, multipart/form-data or application/json"
    )


_DECISION_TYPES = frozenset(
    {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}
)


def _joined(content_type: str) -> bool:
    """True when a ',' outside a quoted string (or an unclosed quote) shows several fields
    joined into one (RFC 9110 5.3): a parameter holds a ',' only quoted (a multipart boundary
    may). Linear: quoted-pairs dropped first, then the text split at the quotes."""
    segments = _QUOTED_PAIR.sub("", content_type).split('"')
    return len(segments) % 2 == 0 or any("," in outside for outside in segments[::2])


def _parse_form(body: bytes) -> PostedDecision:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ClientError(400, "malformed form body") from exc
    return _decision_of(pairs)


def _multipart_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The (name, value) fields of a multipart/form-data body (RFC 7578), read by the standard
    library's MIME parser; ClientError when the body is not one, holds a file, an encoded
    part or too many fields.

    The parser's compat32 policy: the default one parses headers about twenty times slower,
    which hostile headers would turn into a stalled event loop. Field names are compared as
    ASCII, values decoded as UTF-8 (what browsers send for a UTF-8 page).
    """
    if len(body) > MAX_MULTIPART_BODY:
        raise ClientError(413, f"multipart body larger than {MAX_MULTIPART_BODY} bytes")
    if "\r" in content_type or "\n" in content_type:  # would end the header early
        raise ClientError(400, "malformed Content-Type")
    if len(content_type) > MAX_MULTIPART_TYPE:
        raise ClientError(400, f"a multipart Content-Type longer than {MAX_MULTIPART_TYPE}")
    if body.count(b";") > MAX_MULTIPART_SEMICOLONS:
        raise ClientError(400, f"more than {MAX_MULTIPART_SEMICOLONS} ';' in a multipart body")
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=email.policy.compat32).parsebytes(head + body)
    except (UnicodeEncodeError, ValueError, TypeError) as exc:  # a header that is no text
        raise ClientError(400, "malformed multipart body") from exc
    parts = message.get_payload() if message.is_multipart() else None
    if message.defects or not isinstance(parts, list) or not parts:
        raise ClientError(400, "malformed multipart body")
    if len(parts) > MAX_FIELDS:
        raise ClientError(400, f"more than {MAX_FIELDS} fields")
    fields: list[tuple[str, str]] = []
    for part in parts:
        if not isinstance(part, Message) or part.is_multipart() or part.defects:
            raise ClientError(400, "malformed multipart body")
        if part.get_content_disposition() != "form-data":
            raise ClientError(400, "a multipart part without Content-Disposition: form-data")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ClientError(400, "a multipart part without a name")
        if part.get_filename() is not None:
            raise ClientError(400, "a consent decision takes no files")
        # The parser would decode base64, quoted-printable, even uuencode, which no browser
        # sends (RFC 7578 4.7) and Starlette's form reader, a WAF or a log take as they are.
        encoding = str(part.get("content-transfer-encoding", "7bit")).strip().lower()
        if encoding not in _IDENTITY_ENCODINGS:
            raise ClientError(400, "a multipart part with a Content-Transfer-Encoding")
        payload = part.get_payload(decode=True)
        try:
            value = payload.decode("utf-8") if isinstance(payload, bytes) else ""
        except UnicodeDecodeError as exc:
            raise ClientError(400, "malformed multipart body") from exc
        fields.append((name, value))
    return fields


def _decision_of(pairs: list[tuple[str, str]]) -> PostedDecision:
    """The decision of a form's fields."""
    actions = [v for k, v in pairs if k == "action"]
    nexts = [v for k, v in pairs if k == "next"]
    if len(actions) != 1 or len(nexts) > 1:
        raise ClientError(400, "the form needs exactly one action and at most one next")
    action = actions[0]
    if action not in ACTIONS:
        raise ClientError(400, f"unknown action (known: {', '.join(ACTIONS)})")
    categories = frozenset(v for k, v in pairs if k == "categories")
    versions = [v for k, v in pairs if k == "policy_version"]
    version = (versions[0] if len(versions) == 1 else "") if versions else None
    return PostedDecision(action, categories, nexts[0] if nexts else "/", True, version)


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key[:64]  # echoed in the error: bounded


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique. Python keeps the last of a repeated name, other
    readers (a log, a WAF, the site's own client code) the first: a decision must not mean
    one thing to them and another to the receipt, as a form with two `action`s cannot."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return data


def _parse_json(body: bytes) -> PostedDecision:
    try:
        data = json.loads(body, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        raise ClientError(400, f"repeated field in the JSON body: {exc.key}") from exc
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ClientError(400, "malformed JSON") from exc
    if not isinstance(data, dict):
        raise ClientError(400, "the JSON body must be an object")
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ClientError(400, f"action must be one of {', '.join(ACTIONS)}")
    categories = data.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ClientError(400, "categories must be a list of strings")
    next_path = data.get("next", "/")
    if not isinstance(next_path, str):
        raise ClientError(400, "next must be a string")
    version = data.get("policy_version")  # absent: None
    if "policy_version" in data and not isinstance(version, str):
        raise ClientError(400, "policy_version must be a string")
    return PostedDecision(action, frozenset(categories), next_path, False, version)


def well_formed_version(version: str) -> bool:
    """Whether `version` could be a policy's version: not empty, not longer than a consent
    cookie can carry, no control characters (nothing a banner's hidden field holds)."""
    return (
        len(version) <= MAX_POLICY_VERSION
        and bool(version.strip())
        and not any(ch < " " or ch == "\x7f" for ch in version)
    )
