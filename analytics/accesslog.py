"""A private access log for uvicorn: no client address, no query string, paths redacted.

uvicorn's access log writes every request's client address and full URL, query string
included, to stdout: on most hosts that lands in a log store next to the analytics that
promise never to link an address to a visit; its WebSocket handshake lines (on
`uvicorn.error`) carry both as well. `PrivateAccessLog` is a `logging.Filter` for uvicorn's
handlers that keeps what operators read access logs for (method, path, status, timing of
the line) and drops the rest: the client address becomes `-`, the query string is cut, and
the path is redacted exactly as events store it (ids, e-mail addresses and tokens become
`:id`/`:redacted`, see `analytics.paths.redact_path`).

    uvicorn app:app --log-config examples/uvicorn-log.json
    uvicorn.run(app, log_config=analytics.accesslog.LOG_CONFIG)

References: uvicorn's logging (`uvicorn.config.LOGGING_CONFIG`, `uvicorn.logging`), Python's
`logging.config.dictConfig` schema.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, unquote

from analytics.paths import (
    _EMBEDDED_MARK,
    MAX_PATH_LENGTH,
    REDACTED,
    redact_path,
    redact_sent_path,
)

# uvicorn calls access_logger.info('%s - "%s %s HTTP/%s" %d', client, method, path, version,
# status) from both of its HTTP implementations; AccessFormatter unpacks the same five args.
_ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'
_ACCESS_ARGS = 5
_ACCESS_LOGGER = "uvicorn.access"
# Its WebSocket implementations log each handshake on `uvicorn.error` (the default handler) as
# '%s - "WebSocket %s" [accepted]' (or 403, or a status): client and path with query again.
_WEBSOCKET_PREFIX = '%s - "WebSocket %s"'
# At --log-level trace: connection lines on `uvicorn.error` ("%sHTTP connection made" with
# "<client>:<port> - " as the argument), and on `uvicorn.asgi` every ASGI message, prefixed
# "<client>:<port> - ASGI", the scope among them (client, path, raw_path, query string).
_TRACE_LEVEL = 5
_ASGI_LOGGER = "uvicorn.asgi"
_CLIENT_SEPARATOR = " - "
_REWRITTEN = "analytics_private"  # the attribute that marks a record this filter has seen


# What a log line cannot hold as it is (non-ASCII, spaces, quotes, controls) is percent-encoded;
# `%` is not: the stored path's own escapes (`%2F`, `%E9`, `%00`) are shown as stored.
_LOGGED_AS_IS = "/:@!$&'()*+,;=-._~%"
# The method as events store it (analytics.capture.MAX_METHOD_LENGTH and OTHER_METHOD, not
# imported: that module needs pyarrow, and a log filter must not): h11 passes any token.
_MAX_METHOD_LENGTH = 24
_OTHER_METHOD = "OTHER"

# The path of the response being started, handed off by TrafficMiddleware: `(path, raw_path)`
# as the event got them. uvicorn writes its access line from `send` of `http.response.start`
# (or its own 500 after the app raised), in the app's task, right after the middleware saw
# that message: the same context. The line's path is taken from it only when it is the same
# decoded path (not one from under a mount the server stripped), and the value is cleared
# once a line has read it: under HTTP/1.1 pipelining, uvicorn starts the next request's task
# from within this one's, and that task's context starts as a copy of this one (its own line,
# for a request nobody records, such as one whose app raised, would read this path as sent).
SENT_PATH: ContextVar[tuple[str, bytes | None] | None] = ContextVar(
    "analytics_sent_path", default=None
)
# Whether this process has built a PrivateAccessLog, the only reader of SENT_PATH. Until it
# has, TrafficMiddleware hands nothing off: a `ContextVar.set` copies the context's mapping and
# makes a token, about 1 k instructions on every recorded request for a line nobody filters.
# Set by the filter's constructor, which logging's configuration (uvicorn's --log-config,
# gunicorn's logconfig_dict, `dictConfig`) runs before the server takes a request; never
# cleared. A filter built later than a request's response start judges that one line itself
# (`_judged_as_maybe_sent`: redacted as much or more, never less).
private_log_built = False

# Longer paths are judged from their start (see `_judged_as_maybe_sent`): four times what an
# event stores, so that a path whose segments are redacted to shorter text still fills it.
_LONGEST_JUDGED_PATH = 4 * MAX_PATH_LENGTH
_ESCAPED_CHARACTER = len("%F0%9F%98%80")  # the longest a character is in a line's path
# A parameter of a query encoded into the path in any segment after its mark: an `=`, as
# the recorder read it before it looked in the mark's own segment only.
_ACROSS_SEGMENTS_PARAMETER = re.compile(r"=|%(?:25)*3[Dd]")

# A standard base64 token (RFC 4648 §4) sent with `%2F` reaches the log as several segments
# (uvicorn logs `scope["path"]`, decoded, never `raw_path`): its pieces are of that alphabet
# and, random, not words (`q3Vt8LmZ`, `Tu6iOo8=`), where a route's segments mostly are
# (`reset`, `Products`). A piece of up to 3 characters may be a word (or empty, for `%2F%2F`):
# such short pieces join a run only between two long ones, or as its `=` padding (`/A==`).
_BASE64_PIECE = re.compile(r"[A-Za-z0-9+=]*")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_LONGEST_SHORT_PIECE = 3
_SHORT_PIECES_BETWEEN = 2  # `x0%2F%2FdMSs…`: two short pieces, one empty
# A padded token is whole when its length is a multiple of 4: the segments before a run
# that ends in `=` padding (no id, no route does) that make it so were its start, whatever
# they look like (`/reset/ctsi%2FO6MP4EOtdwYS93zeQ==`); a route's `/reset/` does not.
_BASE64_QUANTUM = 4
_SEGMENTS_BEFORE_PADDED = 3
# A phone number holds 8 digits or more, a card's or a device's 14 (see analytics.paths).
_ASCII_DIGIT = re.compile(r"[0-9]")
_FEWEST_DIGITS_OF_A_NUMBER = 8


def _private_path(full_path: object) -> str:
    """The path of a log line (uvicorn's: percent-encoded, maybe with a query) as the event
    stores it: from the request's `raw_path` when the recorder handed it off, else judged as
    the client may have sent it."""
    # uvicorn logs the path percent-encoded (so no CR/LF reaches the log); redaction reads the
    # decoded path, and the result is encoded again for the same reason.
    encoded = str(full_path).partition("?")[0]
    sent = SENT_PATH.get()
    if sent is not None:
        SENT_PATH.set(None)  # read once: see SENT_PATH
        if sent[0] == unquote(encoded):
            return quote(redact_sent_path(sent[0], sent[1]), safe=_LOGGED_AS_IS)
    # Only what is judged is decoded: a character is at most 12 characters encoded (`%F0…`).
    path = unquote(encoded[: _ESCAPED_CHARACTER * (_LONGEST_JUDGED_PATH + 1)])
    return quote(_judged_as_maybe_sent(path), safe=_LOGGED_AS_IS)


def _judged_as_maybe_sent(path: str) -> str:
    """`path` (decoded) as the event would store it, had the client sent some of its `/` as
    `%2F` or some of its bytes not as UTF-8: redacted where it would be, either way.

    Only its first `_LONGEST_JUDGED_PATH` characters (a longer path is logged cut at a
    segment, with `/…`, as events store one; the segment the cut went through is shown only
    redacted): judging them runs the recorder's rules many times over, on the event loop,
    and a request line of 64 KiB (httptools) took a second of CPU.
    """
    cut = len(path) > _LONGEST_JUDGED_PATH
    if cut:
        path = path[:_LONGEST_JUDGED_PATH]
    judged = _with_query_across_segments_marked(path)
    judged = _with_token_runs_redacted(_with_number_runs_redacted(judged))
    if "\ufffd" in judged:
        judged = "/".join(_judged_as_sent(segment) for segment in judged.split("/"))
    stored = redact_sent_path(judged, None)  # redact_path, control characters escaped
    if not cut or stored.endswith("/…"):
        return stored  # whole, or cut as events are (MAX_PATH_LENGTH)
    kept, _, last = stored.rpartition("/")
    if last == REDACTED:
        return stored + "/…"
    if last.endswith(REDACTED):
        return stored  # `…%3F:redacted`: a query encoded into the path runs to its end
    return kept + "/…"


def _with_query_across_segments_marked(path: str) -> str:
    """`path` with an `=` put right after the mark of a query encoded into it (see
    `analytics.paths._EMBEDDED_MARK`) whose first parameter lies in a later segment: the
    recorder looks for it in the segment the client sent the mark in, which may have run on
    past a `/` sent as `%2F` (`cb%3Fnext%2Fpin%3D482913`). The log cannot tell, so the query
    is cut here (the mark's own segment judged whole), and so is a route's later `key=value`
    segment after a name's mark (`/questions/tagged/c%23/sort=newest`), its event keeping it."""
    mark = _EMBEDDED_MARK.search(path)
    if mark is None:
        return path  # the common case: one scan in C
    parameter = _ACROSS_SEGMENTS_PARAMETER.search(path, mark.end())
    if parameter is None:
        return path
    end = mark.end()
    for later in _EMBEDDED_MARK.finditer(path, end, parameter.start()):
        end = later.end()
    return path[:end] + "=" + path[end:]


def _with_number_runs_redacted(path: str) -> str:
    """`path` with each run of segments that the recorder would take for one card's, bank
    account's or phone's number, had the client sent the `/` between them as `%2F`
    (`/pay/4111%2F1111%2F1111%2F1111`), as one `:redacted`: a run where a digit ends each
    segment and starts the next. The log cannot tell such a `/` from one sent as it is, so
    `/pay/4111/1111/1111/1111` is logged redacted too (its event keeps it: a route's
    segments are not one number)."""
    if len(_ASCII_DIGIT.findall(path)) < _FEWEST_DIGITS_OF_A_NUMBER:
        return path  # the common case: too few digits for any such number
    segments = path.split("/")
    judged: list[str] = []
    at = 0
    while at < len(segments):
        end = at
        while (
            end + 1 < len(segments)
            and segments[end][-1:].isdigit()
            and segments[end + 1][:1].isdigit()
        ):
            end += 1
        run = segments[at : end + 1]
        if len(run) > 1 and _sent_encoded_is_redacted(run) and not _any_piece_redacted(run):
            judged.append(REDACTED)
        else:
            judged.extend(run)
        at = end + 1
    return "/".join(judged)


def _any_piece_redacted(run: list[str]) -> bool:
    """Whether a segment of `run` is redacted by itself: then the run is judged as segments
    (`/ip/192.168.1.1/2024` logs its `/2024`), as the recorder judges a plain `/`."""
    return any(redact_path("/" + piece) == "/" + REDACTED for piece in run)


def _with_token_runs_redacted(path: str) -> str:
    """`path` with each run of segments that the recorder would take for one token, had the
    client sent the `/` between them as `%2F`, as one `:redacted` (see
    `analytics.paths.redact_sent_path`); judged only where the pieces are not words, or
    where the run is a whole padded base64 value."""
    segments = path.split("/")
    long_pieces = [_is_long_piece(segment) for segment in segments]
    if not any(long_pieces):
        return path  # the common case: no piece of a token at all
    judged: list[str] = []
    at = 0
    while at < len(segments):
        if at == 0 or not long_pieces[at]:  # segments[0] is the root's empty one
            judged.append(segments[at])
            at += 1
            continue
        end = _run_end(segments, long_pieces, at)
        run = segments[at : end + 1]
        if run[-1].endswith("="):
            start = _padded_run_start(judged, run)
            if start is None:
                judged.extend(run)
            else:
                del judged[start:]
                judged.append(REDACTED)
        elif len(run) > 1 and _sent_encoded_is_redacted(run) and _pieces_are_not_words(run):
            judged.append(REDACTED)
        else:
            judged.extend(run)
        at = end + 1
    return "/".join(judged)


def _run_end(segments: list[str], long_pieces: list[bool], at: int) -> int:
    """The last segment of the run of pieces that starts with the long piece at `at`."""
    end = at
    while True:
        following = end + 1
        while following < len(segments) and _is_short_piece(segments[following]):
            following += 1
        if following < len(segments) and long_pieces[following]:
            if following - end - 1 > _SHORT_PIECES_BETWEEN:
                return end
            end = following
            continue
        # `…%2FA==`, `…%2FV19%2Fw==`: short pieces up to the padding end the run
        for padding in range(end + 1, min(following, end + 1 + _SHORT_PIECES_BETWEEN)):
            if segments[padding].endswith("="):
                return padding
        return end


def _padded_run_start(judged: list[str], run: list[str]) -> int | None:
    """Where in `judged` (the segments before `run`) the padded token that `run` ends
    starts, if `run` is the end of one that the recorder redacts; else None."""
    for count in range(min(_SEGMENTS_BEFORE_PADDED, len(judged) - 1) + 1):
        before = judged[len(judged) - count :]
        if count and _BASE64_PIECE.fullmatch(before[0]) is None:
            return None
        candidate = [*before, *run]
        if len(candidate) < 2 or not _sent_encoded_is_redacted(candidate):
            continue
        if len("/".join(candidate)) % _BASE64_QUANTUM == 0:
            return len(judged) - count
        if not count and _pieces_are_not_words(run):
            return len(judged)  # not whole (`…%2FTu6iOo8=`), yet pieces of a token
    return None


def _is_long_piece(segment: str) -> bool:
    return (
        len(segment) > _LONGEST_SHORT_PIECE
        and _BASE64_PIECE.fullmatch(segment) is not None
        and _WORD.fullmatch(segment) is None
    )


def _is_short_piece(segment: str) -> bool:
    return len(segment) <= _LONGEST_SHORT_PIECE and _BASE64_PIECE.fullmatch(segment) is not None


def _sent_encoded_is_redacted(run: list[str]) -> bool:
    """Whether the recorder redacts `run` sent as one segment, `%2F` between its pieces."""
    sent = "/" + "/".join(run)
    raw = ("/" + "%2F".join(quote(piece, safe="") for piece in run)).encode("ascii")
    return redact_sent_path(sent, raw) == "/" + REDACTED


def _pieces_are_not_words(run: list[str]) -> bool:
    """Whether the token rule, reading `run`'s pieces as a token's groups (joined by `-`),
    finds them unreadable enough: `Shoes2024/Men2024/Running3` is a route's words."""
    return redact_path("/" + "-".join(run)) == "/" + REDACTED


def _judged_as_sent(segment: str) -> str:
    """A segment whose bytes that were not UTF-8 uvicorn gave as U+FFFD (the log never sees
    `raw_path`): redacted when it would be with them read as a space or as nothing, as the
    recorder, reading the bytes themselves, redacts `/pay/4111%A01111%A01111%A01111`; or with
    each read as one such byte, as the recorder redacts a binary token's segment
    (`/download/%90%5B%BD%11…`: bytes, not words)."""
    if "\ufffd" not in segment:
        return segment
    for reading in (" ", ""):
        if redact_path("/" + segment.replace("\ufffd", reading)) == "/" + REDACTED:
            return REDACTED
    as_bytes = quote(segment, safe="").replace("%EF%BF%BD", "%FF")
    if redact_sent_path("/" + segment, ("/" + as_bytes).encode("ascii")) == "/" + REDACTED:
        return REDACTED
    return segment


def _private_method(method: object) -> object:
    if isinstance(method, str) and len(method) > _MAX_METHOD_LENGTH:
        return _OTHER_METHOD
    return method


class PrivateAccessLog(logging.Filter):
    """Rewrites uvicorn's access and WebSocket records in place; other records pass unchanged."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        global private_log_built
        private_log_built = True  # from now on the recorder hands off the path as sent

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or getattr(record, _REWRITTEN, False):
            # Rewritten already: gunicorn's config puts the filter on the access logger and on
            # the handler it propagates to, and a path as stored is not one as uvicorn logs it
            # (`/caf%E9` read again would be `/caf\ufffd`).
            return True
        setattr(record, _REWRITTEN, True)
        msg = record.msg
        if len(args) == _ACCESS_ARGS and (msg == _ACCESS_FORMAT or record.name == _ACCESS_LOGGER):
            _client, method, full_path, http_version, status = args
            path = _private_path(full_path)
            record.args = ("-", _private_method(method), path, http_version, status)
        elif len(args) >= 2 and isinstance(msg, str) and msg.startswith(_WEBSOCKET_PREFIX):
            record.args = ("-", _private_path(args[1]), *args[2:])
        elif record.levelno <= _TRACE_LEVEL and isinstance(msg, str) and msg.startswith("%s"):
            record.args = tuple(_private_trace_arg(arg) for arg in args)
        return True


def _private_trace_arg(arg: object) -> object:
    """A trace record's argument without the client or the URL's identifying parts."""
    if isinstance(arg, str) and _CLIENT_SEPARATOR in arg:
        # "<client>:<port> - " or "<client>:<port> - ASGI": only what follows the client
        return arg.rpartition(_CLIENT_SEPARATOR)[2]
    if isinstance(arg, dict) and "client" in arg:  # an ASGI scope, headers already "<...>"
        scope = {**arg, "client": "-"}
        if "path" in scope:
            scope["path"] = _private_path(scope["path"])
        if "raw_path" in scope:
            scope["raw_path"] = "<...>"
        if "query_string" in scope:
            scope["query_string"] = "<...>"
        return scope
    return arg


# uvicorn's own default configuration (uvicorn.config.LOGGING_CONFIG, 0.30+) with the filter
# on the access handler, plus the cookiewall and analytics loggers; written out so that
# importing this module needs no uvicorn.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"private": {"()": "analytics.accesslog.PrivateAccessLog"}},
    "formatters": {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["private"],
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["private"],
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        # Without these, the gate's and the recorder's own lines had no handler: warnings
        # reached stderr through Python's last resort (no level), and the gate's INFO line for
        # a removed cookie (once per name) was never shown. Names only, never values.
        "cookiewall": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "analytics": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}

__all__ = ["LOG_CONFIG", "SENT_PATH", "PrivateAccessLog"]
